"""The API of the Flask-UndoRedo library, on the undoredo extension.

Replace ``from flask_undoredo import UndoRedo`` by
``from undoredo.flask import UndoRedo`` and the application keeps working:

    undo_redo = UndoRedo(app)          # or UndoRedo() and init_app(app)
    with undo_redo.capture(db.session, "document", document.id):
        ...                            # every transaction: one undo step
    undo_count, redo_count = undo_redo.undo(db.session, "document", document.id)
    undo_count, redo_count = undo_redo.redo(db.session, "document", document.id)
    undo_redo.clear_history("document", document.id)

Who made a step: set ``UNDO_REDO_ACTOR`` in the app's config to a callable
returning the current user's name or id as a string (or None), for
instance ``lambda: str(flask_login.current_user.id)``.  ``capture`` and
``revert`` call it each time, unless given ``actor=``, and record the
result as the step's actor.  ``undo``/``redo``/``status`` act on everyone's
steps unless given ``actor=`` (``actor=undo_redo.current_actor()``: the
current user's own).  Without the setting nothing of this happens.

Applications should also track their tables at start-up:
``UndoRedo(app, track=db.metadata)`` (or ``track=[Model, ...]``, or
``undo_redo.track_tables(...)`` later), see ``undoredo.sqlalchemy``.

The differences (see README.md): the counts are steps, not history rows; a
block that commits twice records two steps; the history is written in the
application's database and transaction (nothing here commits); a row
changed outside the history since makes undo and redo raise
``undoredo.Conflict`` instead of overwriting it (``force=True`` overwrites).
"""
import threading
import warnings

from flask import current_app, has_app_context

from undoredo import sqlalchemy as core
from undoredo import Conflict, ReplayError, StepUndone, UnknownStep  # noqa: F401  (re-exported)


class UndoRedo:
    """Undo/redo for a Flask application.  Every method that takes a session
    accepts a Session or a scoped_session such as Flask-SQLAlchemy's
    ``db.session``."""

    def __init__(self, app=None, track=None):
        self.app = app
        self._local = threading.local()   # the session this thread passed last
        if app is not None:
            self.init_app(app, track=track)

    def init_app(self, app, track=None):
        """Register with the app.  ``track``: a MetaData, models or Tables
        (or a list of them) to track now, in a transaction of their own on
        Flask-SQLAlchemy's engine (see ``track_tables``)."""
        if app.config.get("UNDO_REDO_DATABASE_URI"):
            warnings.warn(
                "UNDO_REDO_DATABASE_URI is ignored: undoredo keeps the history in the "
                "application's own database, in the same transaction as the changes",
                UserWarning, stacklevel=2)
        actor = app.config.get("UNDO_REDO_ACTOR")
        if actor is not None and not callable(actor):
            raise TypeError("UNDO_REDO_ACTOR must be a callable returning the current "
                            "actor (a string) or None, not %r" % (actor,))
        app.extensions["undoredo"] = self
        if track is not None:
            with app.app_context():
                self.track_tables(track)

    def _use(self, session):
        if session is None:
            raise ValueError("a session is required")
        self._local.session = session
        return session

    def current_actor(self):
        """What the app's ``UNDO_REDO_ACTOR`` callable returns now (the
        current app's config, else that of the app given to the
        constructor), or None without one."""
        if has_app_context():
            config = current_app.config
        elif self.app is not None:
            config = self.app.config
        else:
            return None
        actor = config.get("UNDO_REDO_ACTOR")
        if actor is None:
            return None
        if not callable(actor):
            raise TypeError("UNDO_REDO_ACTOR must be a callable, not %r" % (actor,))
        return actor()

    def capture(self, session, object_type, object_id, label=None, actor=None):
        """A context manager: what the session writes inside it is recorded
        as one undo step of the object per transaction; pending changes are
        flushed when it ends.  The steps' actor is ``actor``, else
        ``current_actor()``."""
        if actor is None:
            actor = self.current_actor()
        return core.capture(self._use(session), object_type, object_id, label, actor)

    def undo(self, session, object_type, object_id, steps=1, force=False, actor=None):
        """Undo the newest step(s) (with ``actor``: that actor's); returns
        ``(undo_count, redo_count)``.  Raises ``undoredo.Conflict``;
        ``force=True`` overwrites instead."""
        return core.undo(self._use(session), object_type, object_id, steps, force, actor)

    def redo(self, session, object_type, object_id, steps=1, force=False, actor=None):
        """Redo the most recently undone step(s); returns the counts."""
        return core.redo(self._use(session), object_type, object_id, steps, force, actor)

    def revert(self, session, object_type, object_id, step, force=False, actor=None,
               label=None):
        """Revert one step (its id: the ``step`` of ``history()``) as a new
        step, whose actor is ``actor``, else ``current_actor()``; see
        ``undoredo.sqlalchemy.revert``."""
        if actor is None:
            actor = self.current_actor()
        return core.revert(self._use(session), object_type, object_id, step, force, actor,
                           label)

    def status(self, session, object_type, object_id, actor=None):
        """``(undo_count, redo_count)`` (with ``actor``: that actor's),
        changing nothing."""
        return core.status(self._use(session), object_type, object_id, actor)

    def history(self, session, object_type, object_id):
        """The steps, oldest first (step, state, label, created_at, changes,
        position, actor, reverts)."""
        return core.history(self._use(session), object_type, object_id)

    def changes(self, session, object_type, object_id, step):
        """The row changes of a step, a list of ``undoredo.sqlalchemy.Change``
        (``iter_changes`` there streams them)."""
        return core.changes(self._use(session), object_type, object_id, step)

    def verify(self, session):
        """Why capture could miss writes: a list of
        ``undoredo.sqlalchemy.Problem``, empty when it is complete."""
        return core.verify(self._use(session))

    @staticmethod
    def _db():
        if has_app_context():
            return current_app.extensions.get("sqlalchemy")
        return None

    def clear_history(self, object_type, object_id, session=None):
        """Forget the object's history.  Like the original it needs no
        session: it runs in ``session`` if given, else in Flask-SQLAlchemy's
        ``db.session`` (this app context's), else in the session this
        thread last passed to this object; never in another thread's."""
        if session is None:
            db = self._db()
            session = db.session if db is not None else getattr(self._local, "session", None)
        if session is None:
            raise RuntimeError("clear_history() needs a session: pass session=, use "
                               "Flask-SQLAlchemy, or pass one to capture(), undo() or redo() "
                               "first in this thread")
        core.clear(session, object_type, object_id)

    def track_tables(self, *targets, bind=None):
        """Track at start-up the tables of a MetaData, of models or Tables
        (see ``undoredo.sqlalchemy.track_tables``), on ``bind`` or
        Flask-SQLAlchemy's engine."""
        if bind is None:
            db = self._db()
            if db is None:
                raise RuntimeError("track_tables() needs bind= without Flask-SQLAlchemy")
            bind = db.engine
        return core.track_tables(bind, *targets)

    def track(self, model_or_table, session=None):
        """Track a model's tables (or a Table) in the given session's
        transaction, else Flask-SQLAlchemy's ``db.session``.  For tables
        written by ``text()`` SQL or other clients."""
        if session is None:
            db = self._db()
            session = db.session if db is not None else getattr(self._local, "session", None)
        core.track(self._use(session), model_or_table)
