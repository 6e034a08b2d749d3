"""Python integration of the undoredo PostgreSQL extension.

``undoredo.sqlalchemy`` works with any SQLAlchemy session; ``undoredo.flask``
offers the API of the Flask-UndoRedo library on top of it.  The history
itself lives in the database, recorded by the extension's triggers.

The exceptions below are raised by both modules; this module imports
nothing else, so ``except undoredo.Conflict`` needs no SQLAlchemy import.
"""

try:
    from importlib.metadata import PackageNotFoundError, version as _version
    __version__ = _version("undoredo")   # the extension's version
except PackageNotFoundError:             # imported from a checkout
    __version__ = "unknown"

__all__ = ["UndoRedoError", "NotTracked", "MissingPrimaryKey", "UnsavedChanges",
           "ReplayError", "Conflict", "StepUndone", "UnknownStep"]


class UndoRedoError(Exception):
    """Base class of the errors of this package."""


class NotTracked(UndoRedoError):
    """A write inside ``capture()`` would reach tables that are not tracked
    (``tables``: their names), after tracking was declared at start-up.
    Nothing was written; the session must be rolled back."""

    def __init__(self, tables):
        self.tables = list(tables)
        super().__init__(
            "cannot write under an undoredo scope to %s: not tracked (track it at "
            "start-up with track_tables(), or in a migration with undoredo_track())"
            % ", ".join('table "%s"' % t for t in self.tables))


class MissingPrimaryKey(UndoRedoError):
    """Tables that tracking needs have no primary key (``tables``)."""

    def __init__(self, tables):
        self.tables = list(tables)
        super().__init__("cannot track %s: no primary key"
                         % ", ".join('table "%s"' % t for t in self.tables))


class UnsavedChanges(UndoRedoError):
    """undo or redo was called with unflushed changes in the session.  They
    would be written outside the history and then be taken for someone
    else's change; nothing was done, the session is as it was."""

    def __init__(self, action, object_type, object_id):
        self.action, self.object_type, self.object_id = action, object_type, object_id
        super().__init__(
            "cannot %s %s %s: the session has unsaved changes (commit them inside "
            "capture(), or roll them back, first)" % (action, object_type, object_id))


class ReplayError(UndoRedoError):
    """undo, redo or revert refused a step; nothing was changed, and the
    session's transaction is still usable (the call ran in a savepoint).

    ``action`` ('undo', 'redo' or 'revert'), ``object_type``,
    ``object_id``; ``step``: the step's position in the object's history,
    oldest first, as ``history()`` numbers it (``position``); ``label``:
    its label; ``step_id``: the extension's id of the step (the ``step``
    column of ``undoredo_history``); ``table`` and ``key`` (``'(id)=(1)'``):
    the row named, or None; ``later_step``, ``later_label`` and
    ``later_step_id``: the later step of the same history that changed
    that row, when the server names one, else None; ``pgcode``,
    ``detail``, ``hint`` and ``orig`` (the driver's exception) as the
    server reported them."""

    def __init__(self, message, action, object_type, object_id, step, step_id, label,
                 table, key, pgcode, detail, hint, orig, later_step=None,
                 later_step_id=None, later_label=None):
        super().__init__(message)
        self.action, self.object_type, self.object_id = action, object_type, object_id
        self.step, self.step_id, self.label = step, step_id, label
        self.table, self.key = table, key
        self.later_step, self.later_step_id = later_step, later_step_id
        self.later_label = later_label
        self.pgcode, self.detail, self.hint, self.orig = pgcode, detail, hint, orig


class Conflict(ReplayError):
    """A row the step touched was changed since (SQLSTATE UR001): outside
    the history, or by a later step of the same history (``later_step``;
    for a per-actor undo or redo, or a revert).  Retry with ``force=True``
    to overwrite it."""


class StepUndone(ReplayError):
    """revert was asked for a step that is undone (in the redo state,
    SQLSTATE 55000): redo it first, or leave it undone."""


class UnknownStep(UndoRedoError, ValueError):
    """The step id given to revert or changes is not in the object's history
    (SQLSTATE 22023): a wrong id, or a step since forgotten (``clear``,
    ``undoredo.max_steps``, or discarded redo history).  ``action``,
    ``object_type``, ``object_id``, ``step_id``; ``pgcode`` and ``orig``
    (the driver's exception) when the server reported it, else None.  The
    session's transaction is still usable."""

    def __init__(self, action, object_type, object_id, step_id, pgcode=None, orig=None):
        self.action, self.object_type, self.object_id = action, object_type, object_id
        self.step_id, self.pgcode, self.orig = step_id, pgcode, orig
        super().__init__("step #%s is not in the history of %s %s"
                         % (step_id, object_type, object_id))
