"""undoredo for SQLAlchemy sessions (1.4 used in 2.0 style, and 2.0).

The extension does the real work: while the setting ``undoredo.scope`` names
an object (``'document:42'``), its triggers record every row change of the
tracked tables, one undo step per transaction.  This module only has to set
that scope at the right moments and make sure the tables are tracked:

- ``capture(session, ...)`` pushes the scope onto a stack kept in
  ``session.info``.  Listeners installed once per Session then set it with
  ``set_config('undoredo.scope', ..., true)`` (a SET LOCAL) on every
  connection a transaction of the session begins inside the block (session
  event ``after_begin``), so a commit inside the block, or a new pooled
  connection, still captures.  A transaction already open when the block is
  entered gets the scope right away.  When the block ends, the open
  transaction (if any) gets back the enclosing block's scope, or none.
- Before an INSERT, UPDATE or DELETE runs through the session inside the
  block (``do_orm_execute``), and before a flush writes (``before_flush``),
  the tables about to be written are tracked if they are not yet, together
  with the tables whose foreign keys cascade from them (their cascaded
  changes are part of the step).  ``text()`` SQL names no table: track the
  tables it writes with ``track()``.
- ``undo``/``redo``/``status``/``history``/``clear`` call the extension's
  functions in the session's own transaction.

Nothing here commits: the history is written in the application's
transaction and is committed or rolled back with it.
"""
import itertools
import weakref

from sqlalchemy import event, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm.interfaces import MANYTOMANY, ONETOMANY
from sqlalchemy.sql.schema import Table

__all__ = ["capture", "track", "undo", "redo", "status", "history", "clear"]

# Keys of session.info.
_SCOPES = "undoredo.scopes"    # [(scope, label)] of the open capture blocks
_KNOWN = "undoredo.known"      # {(id(engine), table)} tracked, checked this transaction
_HOOKED = "undoredo.hooked"    # the listeners are installed on this Session

_schemas = weakref.WeakKeyDictionary()  # Engine -> quoted schema of the extension

# Track the given tables, and the tables whose foreign keys cascade from
# them (recursively), unless a trigger of the extension is on them already
# (undoredo_track locks the table even when it is tracked, so it is only
# called when needed).  Constraints cloned onto partitions are skipped: a
# partitioned table is tracked as a whole.
_TRACK = """
WITH RECURSIVE written(rel) AS (
    SELECT CAST(CAST(t.name AS pg_catalog.regclass) AS pg_catalog.oid)
      FROM pg_catalog.unnest(CAST(:tables AS pg_catalog.text[])) AS t(name)
  UNION
    SELECT c.conrelid
      FROM pg_catalog.pg_constraint c
      JOIN written w ON c.confrelid OPERATOR(pg_catalog.=) w.rel
     WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conparentid OPERATOR(pg_catalog.=) 0
       AND (c.confdeltype OPERATOR(pg_catalog.=) ANY ('{{c,n,d}}')
            OR c.confupdtype OPERATOR(pg_catalog.=) ANY ('{{c,n,d}}'))
)
SELECT {schema}.undoredo_track(CAST(w.rel AS pg_catalog.regclass))
  FROM written w
 WHERE NOT EXISTS (
       SELECT FROM pg_catalog.pg_trigger g
         JOIN pg_catalog.pg_depend d
           ON d.classid OPERATOR(pg_catalog.=) CAST('pg_catalog.pg_proc' AS pg_catalog.regclass)
          AND d.objid OPERATOR(pg_catalog.=) g.tgfoid
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
         JOIN pg_catalog.pg_extension e
           ON d.refclassid OPERATOR(pg_catalog.=) CAST('pg_catalog.pg_extension' AS pg_catalog.regclass)
          AND d.refobjid OPERATOR(pg_catalog.=) e.oid
          AND e.extname OPERATOR(pg_catalog.=) 'undoredo'
        WHERE g.tgrelid OPERATOR(pg_catalog.=) w.rel)
"""

_SCHEMA = """
SELECT pg_catalog.quote_ident(n.nspname)
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
 WHERE e.extname OPERATOR(pg_catalog.=) 'undoredo'
"""


def scope_of(object_type, object_id):
    """The value of undoredo.scope for an object: ``'<type>:<id>'``.  Raises
    ValueError for what the extension would reject, so that capture() fails
    at the start of the block rather than at the first statement."""
    if not isinstance(object_type, str) or not object_type or ":" in object_type:
        raise ValueError("object_type must be a non-empty string without ':', not %r"
                         % (object_type,))
    if object_id is None or str(object_id) == "":
        raise ValueError("object_id must not be None or empty")
    return "%s:%s" % (object_type, object_id)


def _id(object_id):
    """An object id in the text form of the extension's functions (42 and
    '42' are the same history); None stays NULL, which they reject."""
    return None if object_id is None else str(object_id)


def _session(session):
    """The Session behind a scoped_session (Flask-SQLAlchemy's db.session)."""
    return session() if isinstance(session, scoped_session) else session


def _schema(connection):
    """The quoted schema of the extension in the connection's database."""
    schema = _schemas.get(connection.engine)
    if schema is None:
        schema = connection.execute(text(_SCHEMA)).scalar()
        if schema is None:
            raise RuntimeError("the undoredo extension is not installed in this database "
                               "(CREATE EXTENSION undoredo)")
        _schemas[connection.engine] = schema
    return schema


def _set_scope(connection, scope, label):
    """SET LOCAL the scope, and the label unless it is None."""
    if label is None:
        connection.execute(text("SELECT pg_catalog.set_config('undoredo.scope', :scope, true)"),
                           {"scope": scope})
    else:
        connection.execute(text("SELECT pg_catalog.set_config('undoredo.scope', :scope, true),"
                                " pg_catalog.set_config('undoredo.label', :label, true)"),
                           {"scope": scope, "label": label})


def _track(session, tables, recheck):
    """Track the tables (and their cascading children) in the session's
    transaction.  Without recheck, tables already seen by this transaction
    are skipped."""
    known = session.info.setdefault(_KNOWN, set())
    names = {}
    for table in tables:
        connection = session.connection(bind_arguments={"clause": table})
        name = connection.dialect.identifier_preparer.format_table(table)
        key = (id(connection.engine), name)
        if recheck or key not in known:
            known.add(key)
            names.setdefault(connection, []).append(name)
    for connection, batch in names.items():
        connection.execute(text(_TRACK.format(schema=_schema(connection))),
                           {"tables": batch})


def _flush_tables(session):
    """The tables the coming flush may write: the tables of every new, dirty
    and deleted object, the association tables of its many-to-many
    relationships and the tables of its one-to-many children (whose foreign
    keys the flush sets or clears) when those relationships changed, or the
    object is being deleted."""
    tables = set()
    deleted = session.deleted
    for obj in itertools.chain(session.new, session.dirty, deleted):
        state = inspect(obj)
        tables.update(state.mapper.tables)
        for rel in state.mapper.relationships:
            if rel.viewonly or rel.direction not in (ONETOMANY, MANYTOMANY):
                continue
            if obj not in deleted and not state.attrs[rel.key].history.has_changes():
                continue
            if rel.direction is MANYTOMANY:
                tables.add(rel.secondary)
            else:
                tables.update(rel.mapper.tables)
    return [t for t in tables if isinstance(t, Table)]


def _after_begin(session, transaction, connection):
    scopes = session.info.get(_SCOPES)
    if scopes:
        _set_scope(connection, *scopes[-1])


def _do_orm_execute(state):
    if state.session.info.get(_SCOPES) and (state.is_insert or state.is_update
                                            or state.is_delete):
        _track(state.session, [state.statement.table], recheck=False)


def _before_flush(session, flush_context, instances):
    if session.info.get(_SCOPES):
        tables = _flush_tables(session)
        if tables:
            _track(session, tables, recheck=False)


def _forget_known(session, *args):
    # What a rolled-back (sub)transaction tracked is gone with it; recheck.
    session.info.pop(_KNOWN, None)


def _after_transaction_end(session, transaction):
    if transaction.parent is None:
        session.info.pop(_KNOWN, None)


def _hook(session):
    if session.info.get(_HOOKED):
        return
    event.listen(session, "after_begin", _after_begin)
    event.listen(session, "do_orm_execute", _do_orm_execute)
    event.listen(session, "before_flush", _before_flush)
    event.listen(session, "after_soft_rollback", _forget_known)
    event.listen(session, "after_transaction_end", _after_transaction_end)
    session.info[_HOOKED] = True


class capture:
    """``with capture(session, 'document', 42):`` — every transaction the
    session runs inside the block records its changes to tracked tables as
    one undo step of document 42 (one step per transaction: a block that
    commits twice makes two steps).  ``label`` is recorded on the steps.
    Tables written through the session are tracked on first use; see the
    module documentation."""

    def __init__(self, session, object_type, object_id, label=None):
        self.session = _session(session)
        self.entry = (scope_of(object_type, object_id), label)

    def __enter__(self):
        session = self.session
        _hook(session)
        scopes = session.info.setdefault(_SCOPES, [])
        scopes.append(self.entry)
        if session.in_transaction():
            try:
                _set_scope(session.connection(), *self.entry)
            except BaseException:
                scopes.pop()
                raise
        return self

    def __exit__(self, exc_type, exc, tb):
        session = self.session
        scopes = session.info[_SCOPES]
        scopes.pop()
        if not session.in_transaction():
            return
        scope, label = scopes[-1] if scopes else ("", "")
        try:
            _set_scope(session.connection(), scope,
                       None if self.entry[1] is None else label or "")
        except SQLAlchemyError:
            # A transaction that failed inside the block cannot capture
            # anything more and ends in a rollback, which resets the scope;
            # let the block's own error through.
            if exc_type is None:
                raise


def track(session, model_or_table):
    """Track a table (a Table, or a mapped class: all its tables) in the
    session's transaction, and the tables whose foreign keys cascade from it.
    Needed for tables only written by ``text()`` SQL or the bulk_* methods."""
    session = _session(session)
    if isinstance(model_or_table, Table):
        tables = [model_or_table]
    else:
        tables = list(inspect(model_or_table).tables)
    _track(session, tables, recheck=True)


def _counts(session, function, object_type, object_id, steps=None):
    session = _session(session)
    session.flush()
    connection = session.connection()
    args = "CAST(:object_type AS pg_catalog.text), CAST(:object_id AS pg_catalog.text)"
    params = {"object_type": object_type, "object_id": _id(object_id)}
    if steps is not None:
        args += ", CAST(:steps AS pg_catalog.int4)"
        params["steps"] = steps
    row = connection.execute(
        text("SELECT undo_count, redo_count FROM %s.%s(%s)"
             % (_schema(connection), function, args)), params).one()
    return (row.undo_count, row.redo_count)


def undo(session, object_type, object_id, steps=1):
    """Undo the newest ``steps`` steps of the object in the session's
    transaction; returns ``(undo_count, redo_count)``, counted in steps.
    Pending changes are flushed first, and every loaded object is expired
    afterwards (the rows changed under the session).  A row changed outside
    the history since raises an error with SQLSTATE UR001."""
    counts = _counts(session, "undoredo_undo", object_type, object_id, steps)
    _session(session).expire_all()
    return counts


def redo(session, object_type, object_id, steps=1):
    """Redo the ``steps`` most recently undone steps; see ``undo``."""
    counts = _counts(session, "undoredo_redo", object_type, object_id, steps)
    _session(session).expire_all()
    return counts


def status(session, object_type, object_id):
    """``(undo_count, redo_count)`` of the object, changing nothing."""
    return _counts(session, "undoredo_status", object_type, object_id)


def history(session, object_type, object_id):
    """The object's steps, oldest first: rows with ``step``, ``state``
    (``'undo'`` or ``'redo'``), ``label``, ``created_at`` and ``changes``."""
    session = _session(session)
    connection = session.connection()
    return connection.execute(
        text("SELECT step, state, label, created_at, changes FROM %s.undoredo_history("
             "CAST(:object_type AS pg_catalog.text), CAST(:object_id AS pg_catalog.text))"
             % _schema(connection)),
        {"object_type": object_type, "object_id": _id(object_id)}).all()


def clear(session, object_type, object_id):
    """Forget the object's whole history, in the session's transaction."""
    session = _session(session)
    connection = session.connection()
    connection.execute(
        text("SELECT %s.undoredo_clear(CAST(:object_type AS pg_catalog.text),"
             " CAST(:object_id AS pg_catalog.text))" % _schema(connection)),
        {"object_type": object_type, "object_id": _id(object_id)})
