"""The API of the Flask-UndoRedo library, on the undoredo extension.

Replace ``from flask_undoredo import UndoRedo`` by
``from undoredo.flask import UndoRedo`` and the application keeps working:

    undo_redo = UndoRedo(app)          # or UndoRedo() and init_app(app)
    with undo_redo.capture(db.session, "document", document.id):
        ...                            # every transaction: one undo step
    undo_count, redo_count = undo_redo.undo(db.session, "document", document.id)
    undo_count, redo_count = undo_redo.redo(db.session, "document", document.id)
    undo_redo.clear_history("document", document.id)

The differences (see README.md): the counts are steps, not history rows; a
block that commits twice records two steps; the history is written in the
application's database and transaction (nothing here commits); a row
changed outside the history since makes undo and redo raise an error with
SQLSTATE UR001 instead of overwriting it.
"""
import warnings

from flask import current_app

from undoredo import sqlalchemy as core


class UndoRedo:
    """Undo/redo for a Flask application.  Every method that takes a session
    accepts a Session or a scoped_session such as Flask-SQLAlchemy's
    ``db.session``, and remembers it for ``clear_history``."""

    def __init__(self, app=None):
        self.app = app
        self.session = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app):
        if app.config.get("UNDO_REDO_DATABASE_URI"):
            warnings.warn(
                "UNDO_REDO_DATABASE_URI is ignored: undoredo keeps the history in the "
                "application's own database, in the same transaction as the changes",
                UserWarning, stacklevel=2)
        app.extensions["undoredo"] = self

    def _use(self, session):
        if session is None:
            raise ValueError("a session is required")
        self.session = session
        return session

    def capture(self, session, object_type, object_id, label=None):
        """A context manager: what the session writes inside it is recorded
        as one undo step of the object per transaction."""
        return core.capture(self._use(session), object_type, object_id, label)

    def undo(self, session, object_type, object_id, steps=1):
        """Undo the newest step(s); returns ``(undo_count, redo_count)``."""
        return core.undo(self._use(session), object_type, object_id, steps)

    def redo(self, session, object_type, object_id, steps=1):
        """Redo the most recently undone step(s); returns the counts."""
        return core.redo(self._use(session), object_type, object_id, steps)

    def status(self, session, object_type, object_id):
        """``(undo_count, redo_count)``, changing nothing."""
        return core.status(self._use(session), object_type, object_id)

    def history(self, session, object_type, object_id):
        """The steps, oldest first (step, state, label, created_at, changes)."""
        return core.history(self._use(session), object_type, object_id)

    def clear_history(self, object_type, object_id):
        """Forget the object's history.  Like the original it takes no
        session: it runs in the session last passed to this object, whose
        open transaction may hold the object's lock (a second connection
        would wait for it forever)."""
        if self.session is None:
            raise RuntimeError("clear_history() runs in the session last passed to "
                               "capture(), undo() or redo(), and none was passed yet")
        core.clear(self.session, object_type, object_id)

    def track(self, model_or_table, session=None):
        """Track a model's tables (or a Table) explicitly, in the given
        session, else the last one passed, else Flask-SQLAlchemy's
        ``db.session`` of the current app.  capture() tracks the tables the
        session writes by itself; this is for tables written by text() SQL
        or other clients."""
        if session is None:
            session = self.session
        if session is None:
            session = current_app.extensions["sqlalchemy"].session
        core.track(self._use(session), model_or_table)
