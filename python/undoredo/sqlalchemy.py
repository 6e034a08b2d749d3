"""undoredo for SQLAlchemy sessions (1.4 used in 2.0 style, and 2.0).

The extension does the real work: while the setting ``undoredo.scope`` names
an object (``'document:42'``), its triggers record every row change of the
tracked tables, one undo step per transaction.  This module only has to set
that scope at the right moments and make sure the tables are tracked:

- ``track_tables(engine, ...)`` tracks, at start-up and in a transaction of
  its own, the tables of a MetaData or of the models named: their tables
  (inherited and inheriting ones too), association tables, the tables the
  ORM writes through one-to-many relationships and delete cascades, and the
  tables whose foreign keys cascade from any of those in the database.  It
  checks every one for a primary key first (``MissingPrimaryKey`` names the
  ones without) and calls ``undoredo_track`` in a stable order (schema,
  name), only for tables not tracked yet, so concurrent start-ups wait for
  each other instead of deadlocking, and a role without TRIGGER can run it
  once a migration tracked the tables.
- ``capture(session, ...)`` pushes the scope onto a stack kept in
  ``session.info``.  Listeners installed once per Session then set it with
  a ``SET LOCAL undoredo.scope = '...'`` statement (not set_config: on
  Citus only the statement reaches the workers) on every
  connection a transaction of the session begins inside the block (session
  event ``after_begin``), so a commit inside the block, or a new pooled
  connection, still captures.  A transaction already open when the block is
  entered gets the scope right away.  When the block ends, pending changes
  are flushed (they belong to the block), then the open transaction (if
  any) gets back the enclosing block's scope, or none.
- While a connection has a scope set by ``capture``, every INSERT, UPDATE
  and DELETE compiled by SQLAlchemy (flushes with their orphans and
  cascades, association rows, ``update()``/``delete()``) is checked before
  it is sent (engine event ``before_cursor_execute``): its table and the
  tables whose foreign keys cascade from it must be tracked.  On an engine
  that ``track_tables`` was called for, an untracked one raises
  ``NotTracked`` naming it (nothing is tracked inside a request).  On any
  other engine (the Flask-UndoRedo drop-in, nothing declared) it is tracked
  then, in the session's transaction, before the statement.  Known tables
  are remembered per engine, so the check costs a catalog query once per
  table.  ``text()`` SQL is not checked.
- ``undo``/``redo`` refuse to run with unflushed changes in the session
  (``UnsavedChanges``), run the extension's function in a savepoint of the
  session's transaction, and turn a refusal into ``Conflict`` (UR001) or
  ``ReplayError`` naming the step by its position in the object's history
  and its label; ``force=True`` sets ``undoredo.on_conflict`` to
  ``overwrite`` for that call only.  ``revert`` runs ``undoredo_revert``
  the same way, and with ``actor=`` / ``label=`` sets those for the call.
- Actors (1.2): ``capture(..., actor=)`` sets ``undoredo.actor`` with the
  scope, in the same transactions, and only then: without an actor in the
  block (or an enclosing one) the setting is not touched.  ``undo``,
  ``redo`` and ``status`` pass ``actor`` to the extension only when given,
  so that without one they make the 1.1 call.
- Errors are recognised by SQLSTATE and the extension's English messages
  (UR001, 22023, 55000); the later step of a conflict comes from its
  errdetail, the table from the error's table_name field.  Errors they do
  not match pass through as SQLAlchemy's.

Nothing here commits, except ``track_tables`` given an Engine: the history
is written in the application's transaction and is committed or rolled
back with it.
"""
import re
import threading
import weakref
from typing import NamedTuple, Optional

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import scoped_session
from sqlalchemy.orm.interfaces import ONETOMANY
from sqlalchemy.sql.schema import MetaData, Table

from undoredo import (Conflict, MissingPrimaryKey, NotTracked, ReplayError, StepUndone,
                      UnknownStep, UnsavedChanges)

__all__ = ["capture", "track", "track_tables", "undo", "redo", "revert", "status", "history",
           "changes", "iter_changes", "verify", "clear", "Change", "Problem", "Conflict",
           "ReplayError", "StepUndone", "UnknownStep", "NotTracked", "MissingPrimaryKey",
           "UnsavedChanges"]

# Keys of session.info.
_SCOPES = "undoredo.scopes"    # [(scope, label)] of the open capture blocks
_HOOKED = "undoredo.hooked"    # the listeners are installed on this Session
# Keys of Connection.info (the pooled DBAPI connection's), cleared when
# its transaction ends.
_ACTIVE = "undoredo.active"    # a scope is set by capture in this transaction
_TXN = "undoredo.txn-known"    # tables tracked or checked in this transaction


class _EngineState:
    def __init__(self):
        self.declared = False      # track_tables ran for this engine
        self.tracked = set()       # table names known to be tracked
        self.schema = None         # quoted schema of the extension


_engines = weakref.WeakKeyDictionary()   # Engine -> _EngineState
_engines_lock = threading.Lock()


def _state(engine):
    with _engines_lock:
        state = _engines.get(engine)
        if state is None:
            state = _engines[engine] = _EngineState()
            _hook_engine(engine)
        return state


# The tables given (text[] of names) and, recursively, the tables whose
# foreign keys cascade from them (ON DELETE/UPDATE CASCADE, SET NULL, SET
# DEFAULT), each with whether it has a primary key and whether a trigger of
# the extension is on it, in schema and name order.  Constraints cloned
# onto partitions are skipped: a partitioned table is tracked as a whole.
_CLOSURE = """
WITH RECURSIVE written(rel) AS (
    SELECT CAST(CAST(t.name AS pg_catalog.regclass) AS pg_catalog.oid)
      FROM pg_catalog.unnest(CAST({tables} AS pg_catalog.text[])) AS t(name)
  UNION
    SELECT c.conrelid
      FROM pg_catalog.pg_constraint c
      JOIN written w ON c.confrelid OPERATOR(pg_catalog.=) w.rel
     WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conparentid OPERATOR(pg_catalog.=) 0
       AND (c.confdeltype OPERATOR(pg_catalog.=) ANY ('{{c,n,d}}')
            OR c.confupdtype OPERATOR(pg_catalog.=) ANY ('{{c,n,d}}'))
)
SELECT CAST(CAST(w.rel AS pg_catalog.regclass) AS pg_catalog.text) AS name,
       EXISTS (SELECT FROM pg_catalog.pg_constraint p
                WHERE p.conrelid OPERATOR(pg_catalog.=) w.rel
                  AND p.contype OPERATOR(pg_catalog.=) 'p') AS has_key,
       EXISTS (SELECT FROM pg_catalog.pg_trigger g
                 JOIN pg_catalog.pg_depend d
                   ON d.classid OPERATOR(pg_catalog.=) CAST('pg_catalog.pg_proc' AS pg_catalog.regclass)
                  AND d.objid OPERATOR(pg_catalog.=) g.tgfoid
                  AND d.deptype OPERATOR(pg_catalog.=) 'e'
                 JOIN pg_catalog.pg_extension e
                   ON d.refclassid OPERATOR(pg_catalog.=) CAST('pg_catalog.pg_extension' AS pg_catalog.regclass)
                  AND d.refobjid OPERATOR(pg_catalog.=) e.oid
                  AND e.extname OPERATOR(pg_catalog.=) 'undoredo'
                WHERE g.tgrelid OPERATOR(pg_catalog.=) w.rel) AS tracked
  FROM written w
  JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) w.rel
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) k.relnamespace
 ORDER BY n.nspname, k.relname
"""

_SCHEMA = """
SELECT pg_catalog.quote_ident(n.nspname)
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
 WHERE e.extname OPERATOR(pg_catalog.=) 'undoredo'
"""

_NOT_INSTALLED = ("the undoredo extension is not installed in this database "
                  "(CREATE EXTENSION undoredo)")


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
    state = _state(connection.engine)
    if state.schema is None:
        schema = connection.execute(text(_SCHEMA)).scalar()
        if schema is None:
            raise RuntimeError(_NOT_INSTALLED)
        state.schema = schema
    return state.schema


# The settings this module sets, by name: SET takes no bind parameters, so
# the name goes into the statement as it is (one of these only).
_SETTINGS = ("undoredo.scope", "undoredo.label", "undoredo.actor", "undoredo.on_conflict")


def _literal(value):
    """``value`` as a dollar-quoted SQL string constant, with a tag that does
    not end it early: the first occurrence of the tag in value + tag is the
    closing one.  Dollar quoting knows no escapes, so the constant reads the
    same whatever standard_conforming_strings, backslash_quote or the
    driver (no driver quoting is involved)."""
    if not isinstance(value, str):
        raise TypeError("a setting's value must be a string, not %r" % (value,))
    n = 0
    while True:
        tag = "$undoredo%s$" % (n or "")
        if (value + tag).find(tag) == len(value):
            return tag + value + tag
        n += 1


def _set_local(connection, name, value):
    """``SET LOCAL name = 'value'``: a statement, not set_config(..., true),
    because on Citus only the statement is sent on to the workers (with
    citus.propagate_set_commands = 'local').  Run as driver SQL with no
    parameter collection at all (``no_parameters``: ``cursor.execute(sql)``),
    so that neither SQLAlchemy (':') nor the driver ('%') reads anything in
    the value."""
    if name not in _SETTINGS:
        raise ValueError("not a setting of undoredo: %r" % (name,))
    connection.exec_driver_sql("SET LOCAL %s = %s" % (name, _literal(value)),
                               execution_options={"no_parameters": True})


def _set_scope(connection, scope, label, actor=None):
    """SET LOCAL the scope, and the label and the actor unless None."""
    _state(connection.engine)   # the engine's listeners, before any write
    _set_local(connection, "undoredo.scope", scope)
    if label is not None:
        _set_local(connection, "undoredo.label", label)
    if actor is not None:
        _set_local(connection, "undoredo.actor", actor)
    connection.info[_ACTIVE] = bool(scope)


# ---------------------------------------------------------------- engine side

def _forget_transaction(info):
    info.pop(_ACTIVE, None)
    info.pop(_TXN, None)


def _on_end(conn, *args):
    _forget_transaction(conn.info)


def _on_savepoint_rollback(conn, *args):
    # What a rolled-back savepoint tracked is gone with it: check again.
    conn.info.pop(_TXN, None)


def _on_checkin(dbapi_connection, record):
    _forget_transaction(record.info)


def _before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
    if not conn.info.get(_ACTIVE) or context is None:
        return
    if not (context.isinsert or context.isupdate or context.isdelete):
        return
    compiled = getattr(context, "compiled", None)
    table = getattr(getattr(compiled, "statement", None), "table", None)
    if not isinstance(table, Table):
        return
    name = conn.dialect.identifier_preparer.format_table(table)
    state = _state(conn.engine)
    known = conn.info.setdefault(_TXN, set())
    if name in state.tracked or name in known:
        return
    # A cursor of its own on the same DBAPI connection: same transaction,
    # and the statement about to run is not disturbed.
    check = cursor.connection.cursor()
    try:
        check.execute(_CLOSURE.format(tables="%(tables)s"), {"tables": [name]})
        rows = check.fetchall()
        missing = [r[0] for r in rows if not r[2]]
        if missing and state.declared:
            raise NotTracked(missing)
        if missing:
            nokey = [r[0] for r in rows if not r[2] and not r[1]]
            if nokey:
                raise MissingPrimaryKey(nokey)
            if state.schema is None:
                check.execute(_SCHEMA)
                found = check.fetchone()
                if found is None:
                    raise RuntimeError(_NOT_INSTALLED)
                state.schema = found[0]
            for t in missing:
                check.execute("SELECT %s.undoredo_track(CAST(%%(t)s AS pg_catalog.regclass))"
                              % state.schema, {"t": t})
            known.add(name)
            known.update(missing)
        else:
            # Tracked by someone's committed transaction (or this one's):
            # a table is not expected to be untracked while the app runs.
            state.tracked.add(name)
            state.tracked.update(r[0] for r in rows)
    finally:
        check.close()


def _forget_table(table, connection, **kw):
    # A table created or dropped through SQLAlchemy (create_all, drop_all)
    # is not tracked any more: forget it.  DDL run otherwise is not seen.
    state = _engines.get(connection.engine)
    if state is not None:
        state.tracked.discard(connection.dialect.identifier_preparer.format_table(table))


event.listen(Table, "after_create", _forget_table)
event.listen(Table, "after_drop", _forget_table)


def _hook_engine(engine):
    event.listen(engine, "before_cursor_execute", _before_cursor_execute)
    event.listen(engine, "commit", _on_end)
    event.listen(engine, "rollback", _on_end)
    event.listen(engine, "rollback_savepoint", _on_savepoint_rollback)
    event.listen(engine.pool, "checkin", _on_checkin)


# --------------------------------------------------------------- session side

def _after_begin(session, transaction, connection):
    scopes = session.info.get(_SCOPES)
    if scopes:
        _set_scope(connection, *scopes[-1])


def _hook(session):
    if session.info.get(_HOOKED):
        return
    event.listen(session, "after_begin", _after_begin)
    session.info[_HOOKED] = True


class capture:
    """``with capture(session, 'document', 42):`` — every transaction the
    session runs inside the block records its changes to tracked tables as
    one undo step of document 42 (one step per transaction: a block that
    commits twice makes two steps).  ``label`` is recorded on the steps,
    and ``actor`` (who makes the change, as the application names them:
    ``undoredo.actor``) too; a nested block without an actor keeps the
    enclosing block's.  Without any, ``undoredo.actor`` is left alone.
    Pending changes are flushed when the block ends without an exception,
    so a commit after the block records them.  See the module
    documentation for how tables are checked or tracked."""

    def __init__(self, session, object_type, object_id, label=None, actor=None):
        if actor is not None and not isinstance(actor, str):
            raise TypeError("actor must be a string or None, not %r" % (actor,))
        self.session = _session(session)
        self.entry = (scope_of(object_type, object_id), label, actor)

    def __enter__(self):
        session = self.session
        _hook(session)
        scopes = session.info.setdefault(_SCOPES, [])
        scope, label, actor = self.entry
        if actor is None and scopes:
            self.entry = (scope, label, scopes[-1][2])   # the enclosing block's
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
        try:
            if exc_type is None:
                session.flush()      # under the block's scope
        finally:
            scopes.pop()
        if not session.in_transaction():
            return
        scope, label, actor = scopes[-1] if scopes else ("", "", "")
        try:
            _set_scope(session.connection(), scope,
                       None if self.entry[1] is None else label or "",
                       None if self.entry[2] is None else actor or "")
        except SQLAlchemyError:
            # A transaction that failed inside the block cannot capture
            # anything more and ends in a rollback, which resets the scope;
            # let the block's own error through.
            if exc_type is None:
                raise


# ------------------------------------------------------------------- tracking

def tables_of(*targets):
    """The Tables that tracking ``targets`` covers, before database cascades:
    a MetaData gives all its tables; a Table itself; a mapped class (or
    Mapper) its tables, those of the classes inheriting from it, its
    association tables, and, recursively, the classes it writes through
    one-to-many relationships (their foreign keys) or deletes through a
    delete or delete-orphan cascade.  Iterables of these are flattened."""
    tables, seen = {}, set()

    def add_table(t):
        if isinstance(t, Table):
            tables.setdefault(t.key, t)

    def add_mapper(mapper):
        for m in mapper.self_and_descendants:
            if m in seen:
                continue
            seen.add(m)
            for t in m.tables:
                add_table(t)
            for rel in m.relationships:
                if rel.viewonly:
                    continue
                if rel.secondary is not None:
                    add_table(rel.secondary)
                if (rel.direction is ONETOMANY or rel.cascade.delete
                        or rel.cascade.delete_orphan):
                    add_mapper(rel.mapper)

    def add(target):
        if isinstance(target, MetaData):
            for t in target.sorted_tables:
                add_table(t)
        elif isinstance(target, Table):
            add_table(target)
        elif isinstance(target, (list, tuple, set, frozenset)):
            for t in target:
                add(t)
        else:
            add_mapper(inspect(target).mapper)

    for target in targets:
        add(target)
    return list(tables.values())


def _track_in(connection, tables):
    """Check and track the tables and their database cascades in the
    connection's transaction; returns the names of all of them."""
    names = [connection.dialect.identifier_preparer.format_table(t) for t in tables]
    rows = connection.execute(text(_CLOSURE.format(tables=":tables")),
                              {"tables": names}).all()
    nokey = [r.name for r in rows if not r.has_key]
    if nokey:
        raise MissingPrimaryKey(nokey)
    schema = _schema(connection)
    for r in rows:
        if not r.tracked:
            connection.execute(
                text("SELECT %s.undoredo_track(CAST(:t AS pg_catalog.regclass))" % schema),
                {"t": r.name})
    return names + [r.name for r in rows]


def track_tables(bind, *targets):
    """Track, at start-up, every table that ``targets`` cover (see
    ``tables_of``) and the tables whose foreign keys cascade from them.
    ``bind`` is an Engine (the work is done and committed in a transaction
    of its own) or a Connection (done in its transaction, not committed:
    an Alembic migration's ``op.get_bind()``).  Raises MissingPrimaryKey,
    naming every table without a primary key, before tracking anything.
    Tables already tracked are left alone, in a stable order (schema,
    name).  From then on, a write inside ``capture()`` to an untracked
    table on this engine raises NotTracked instead of tracking it.
    Returns the names of the tables checked."""
    tables = tables_of(*targets)
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            names = _track_in(connection, tables)
        engine = bind
    elif isinstance(bind, Connection):
        names = _track_in(bind, tables)
        engine = bind.engine
    else:
        raise TypeError("track_tables() takes an Engine or a Connection, not %r" % (bind,))
    state = _state(engine)
    if isinstance(bind, Engine):
        state.tracked.update(names)
    state.declared = True
    return sorted(set(names))


def track(session, model_or_table):
    """Track a table (a Table, or a mapped class: see ``tables_of``) in the
    session's transaction, with the tables whose foreign keys cascade from
    it.  For tables only written by ``text()`` SQL or other clients; an
    application tracks its tables at start-up with ``track_tables``."""
    session = _session(session)
    for table in tables_of(model_or_table):
        connection = session.connection(bind_arguments={"clause": table})
        names = _track_in(connection, [table])
        connection.info.setdefault(_TXN, set()).update(names)


# ------------------------------------------------------ undo, redo, revert

# The server's messages that name a step, as the extension writes them (in
# English); an error they do not match passes through as the driver's.
_STEP = re.compile(r"cannot (?:undo|redo|revert) step (\d+): (.*)\Z", re.S)
_ROW = re.compile(r'\brow (.+?) of table "((?:[^"]|"")+)"', re.S)
_LATER = re.compile(r"Step (\d+) of this history changed the row after step (\d+)\.\Z")
_REVERT = re.compile(r'cannot revert step (\d+) of ".*": (.*)\Z', re.S)
_UNKNOWN = re.compile(r"step (\d+) is not in the history of ")


class Change(NamedTuple):
    """One row change a step recorded (``changes()``): ``seq`` (1 for the
    first, in capture order), ``table`` (its name as ``regclass`` shows
    it), ``op`` ('insert', 'update' or 'delete'), ``key`` (the primary key
    as a dict, ``{"id": 1}``), ``old`` and ``new`` (dicts of the columns:
    for an update the ones it changed, before and after; for an insert old
    is None, for a delete new is None), values as ``to_jsonb`` shows them.
    ``key``, ``old`` and ``new`` are None for a row the caller may not read."""
    seq: int
    table: str
    op: str
    key: Optional[dict]
    old: Optional[dict]
    new: Optional[dict]


class Problem(NamedTuple):
    """A reason why capture may be incomplete (``verify()``): ``table``
    (None for one about the session) and ``problem``, the server's text."""
    table: Optional[str]
    problem: str


def _unsaved(session):
    if session.new or session.deleted:
        return True
    return any(session.is_modified(obj) for obj in session.dirty)


def _steps(connection, schema, object_type, object_id, step_ids):
    """{step id: (position, label)} for those of the steps that are in the
    object's history."""
    # No column aliases: undoredo_history gained columns in 1.2 (actor,
    # reverts), and an alias list would rename them; the WITH ORDINALITY
    # column is called ordinality whatever the function returns.
    rows = connection.execute(
        text("SELECT h.step, h.ordinality AS position, h.label FROM %s.undoredo_history("
             "CAST(:t AS pg_catalog.text), CAST(:i AS pg_catalog.text)) WITH ORDINALITY AS h"
             " WHERE h.step OPERATOR(pg_catalog.=) ANY (CAST(:s AS pg_catalog.int8[]))"
             % schema),
        {"t": object_type, "i": _id(object_id), "s": list(step_ids)}).all()
    return {r.step: (r.position, r.label) for r in rows}


def _step_name(position, step_id, label):
    name = "step %s" % (position if position is not None else "#%d" % step_id)
    return name + (' ("%s")' % label if label else "")


def _translate(connection, schema, error, action, object_type, object_id):
    """The package's exception for a refusal that names a step, else None:
    UnknownStep (22023), StepUndone (55000), Conflict (UR001), or
    ReplayError.  The later step of a conflict is read from the errdetail
    the extension writes for it ("Step <n> of this history changed the row
    after step <m>."), checked against the step the message names; the
    table from the error's structured table_name field."""
    orig = error.orig
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(orig).split("\n")[0]
    detail = getattr(diag, "message_detail", None)
    pgcode = getattr(orig, "pgcode", None)
    unknown = _UNKNOWN.match(primary)
    if unknown and pgcode == "22023":
        return UnknownStep(action, object_type, object_id, int(unknown.group(1)), pgcode, orig)
    replay = _STEP.match(primary) or _REVERT.match(primary)
    if replay is None:
        return None
    step_id, rest = int(replay.group(1)), replay.group(2)
    undone = pgcode == "55000" and rest == "it has been undone"
    later = _LATER.match(detail or "")
    later_id = int(later.group(1)) if later and int(later.group(2)) == step_id else None
    found = _steps(connection, schema, object_type, object_id,
                   [step_id] if later_id is None else [step_id, later_id])
    position, label = found.get(step_id, (None, None))
    later_position, later_label = found.get(later_id, (None, None))
    row = _ROW.search(rest)
    key = row.group(1) if row else None
    table = getattr(diag, "table_name", None)
    if table is None and row:
        table = row.group(2).replace('""', '"')
    message = "cannot %s %s of %s %s: %s" % (action, _step_name(position, step_id, label),
                                            object_type, object_id, rest)
    if later_id is not None:
        message += "; %s changed it later" % _step_name(later_position, later_id, later_label)
    cls = StepUndone if undone else Conflict if pgcode == "UR001" else ReplayError
    return cls(message, action, object_type, object_id, position, step_id, label, table,
               key, pgcode, detail, getattr(diag, "message_hint", None), orig,
               later_step=later_position, later_step_id=later_id, later_label=later_label)


def _replay(session, action, call, params, object_type, object_id, settings):
    """Run ``call`` (a function of the extension returning the counts) in a
    savepoint, with ``settings`` [(name, value, default)] SET LOCAL for this
    call only; return the counts."""
    session = _session(session)
    if _unsaved(session):
        raise UnsavedChanges(action, object_type, object_id)
    connection = session.connection()
    schema = _schema(connection)
    # A savepoint: a refusal leaves the session's transaction usable, and
    # the settings are back as they were whatever happens.
    connection.execute(text("SAVEPOINT undoredo_replay"))
    try:
        previous = []
        for name, value, _ in settings:
            previous.append(connection.execute(
                text("SELECT pg_catalog.current_setting(:n, true)"), {"n": name}).scalar())
            _set_local(connection, name, value)
        row = connection.execute(
            text("SELECT undo_count, redo_count FROM %s.%s" % (schema, call)), params).one()
    except DBAPIError as error:
        try:
            connection.execute(text("ROLLBACK TO SAVEPOINT undoredo_replay"))
            connection.execute(text("RELEASE SAVEPOINT undoredo_replay"))
        except SQLAlchemyError:
            raise error
        translated = _translate(connection, schema, error, action, object_type, object_id)
        if translated is None:
            raise
        raise translated from error
    # A SET LOCAL outlives the savepoint's release: put back the value the
    # transaction had (unset before the library loaded: the default).
    for (name, _, default), value in zip(settings, previous):
        _set_local(connection, name, value or default)
    connection.execute(text("RELEASE SAVEPOINT undoredo_replay"))
    session.expire_all()
    return (row.undo_count, row.redo_count)


def _force(force):
    return [("undoredo.on_conflict", "overwrite", "error")] if force else []


def _counts_call(function, actor, steps=True):
    """The call of undoredo_undo/redo/status, with the actor only if given
    (the 1.1 signature otherwise)."""
    args = "CAST(:t AS pg_catalog.text), CAST(:i AS pg_catalog.text)"
    if steps:
        args += ", CAST(:n AS pg_catalog.int4)"
    if actor is not None:
        args += ", CAST(:a AS pg_catalog.text)"
    return "%s(%s)" % (function, args)


def undo(session, object_type, object_id, steps=1, force=False, actor=None):
    """Undo the newest ``steps`` steps of the object in the session's
    transaction; returns ``(undo_count, redo_count)``, counted in steps.
    With ``actor``: that actor's newest steps, even if other actors' steps
    are newer, and that actor's counts.  Raises UnsavedChanges if the
    session has unflushed changes, and Conflict if a row the step touched
    was changed since, outside the history or (with an actor) by a newer
    step, ``later_step`` (the session stays usable).  ``force=True``
    overwrites such rows (``undoredo.on_conflict = 'overwrite'`` for this
    call only).  Every loaded object is expired afterwards (the rows
    changed under it)."""
    return _replay(session, "undo", _counts_call("undoredo_undo", actor),
                   {"t": object_type, "i": _id(object_id), "n": steps, "a": actor},
                   object_type, object_id, _force(force))


def redo(session, object_type, object_id, steps=1, force=False, actor=None):
    """Redo the ``steps`` most recently undone steps (with ``actor``: that
    actor's); see ``undo``."""
    return _replay(session, "redo", _counts_call("undoredo_redo", actor),
                   {"t": object_type, "i": _id(object_id), "n": steps, "a": actor},
                   object_type, object_id, _force(force))


def revert(session, object_type, object_id, step, force=False, actor=None, label=None):
    """Revert one undoable step of the object, not necessarily the newest:
    apply its inverse to the current data, recorded as a new step (its
    ``reverts`` is ``step``), in the session's transaction.  ``step`` is
    the extension's step id: the ``step`` column of ``history()``, not its
    position.  ``actor`` and ``label`` are recorded on the new step (the
    label defaults to ``'Revert: <label>'``); given, they are set for this
    call only, else those in effect apply (a ``capture()`` block's).
    Returns ``(undo_count, redo_count)`` of the whole object.  Raises
    UnsavedChanges as undo does; Conflict if a row the step touched was
    changed since, by a later step of the object (``later_step``) or
    outside the history; StepUndone if the step is undone; UnknownStep if
    it is not in the history; ReplayError if what it writes would not all
    be captured (a table untracked since, a trigger disabled: see
    ``verify``).  The session stays usable after each.
    ``force=True`` overwrites conflicting rows, as for undo."""
    settings = _force(force)
    if actor is not None:
        settings.append(("undoredo.actor", actor, ""))
    if label is not None:
        settings.append(("undoredo.label", label, ""))
    return _replay(session, "revert",
                   "undoredo_revert(CAST(:t AS pg_catalog.text), CAST(:i AS pg_catalog.text),"
                   " CAST(:s AS pg_catalog.int8))",
                   {"t": object_type, "i": _id(object_id), "s": step},
                   object_type, object_id, settings)


def status(session, object_type, object_id, actor=None):
    """``(undo_count, redo_count)`` of the object (with ``actor``: of that
    actor's steps), changing nothing."""
    connection = _session(session).connection()
    row = connection.execute(
        text("SELECT undo_count, redo_count FROM %s.%s"
             % (_schema(connection), _counts_call("undoredo_status", actor, steps=False))),
        {"t": object_type, "i": _id(object_id), "a": actor}).one()
    return (row.undo_count, row.redo_count)


def history(session, object_type, object_id):
    """The object's steps, oldest first: rows with ``step`` (the extension's
    step id), ``state`` (``'undo'`` or ``'redo'``), ``label``,
    ``created_at``, ``changes``, ``position`` (1 for the oldest step: how
    errors name a step), ``actor`` (None if none was set) and ``reverts``
    (for a step made by ``revert``, the id of the step it reverted)."""
    connection = _session(session).connection()
    return connection.execute(
        text("SELECT h.step, h.state, h.label, h.created_at, h.changes,"
             " h.ordinality AS position, h.actor, h.reverts"
             " FROM %s.undoredo_history(CAST(:t AS pg_catalog.text),"
             " CAST(:i AS pg_catalog.text)) WITH ORDINALITY AS h"
             " ORDER BY h.ordinality" % _schema(connection)),
        {"t": object_type, "i": _id(object_id)}).all()


def iter_changes(session, object_type, object_id, step, batch=1000):
    """The row changes step ``step`` (a step id, as for ``revert``) of the
    object recorded, as ``Change`` tuples in capture order, read ``batch``
    rows at a time through a server-side cursor: a step of a million rows
    is never held in memory.  Consume it inside the session's transaction
    (a commit closes the cursor).  Raises UnknownStep at once, before any
    row is read, if the step is not in the object's history; other errors
    of the server end the transaction, as a failed statement does."""
    connection = _session(session).connection()
    schema = _schema(connection)
    if step not in _steps(connection, schema, object_type, object_id, [step]):
        raise UnknownStep("changes", object_type, object_id, step)
    result = connection.execute(
        text("SELECT c.seq, CAST(c.tbl AS pg_catalog.text), c.op, c.key, c.old, c.new"
             " FROM %s.undoredo_changes(CAST(:t AS pg_catalog.text),"
             " CAST(:i AS pg_catalog.text), CAST(:s AS pg_catalog.int8)) AS c" % schema
             ).execution_options(stream_results=True, max_row_buffer=batch),
        {"t": object_type, "i": _id(object_id), "s": step})
    return (Change(*row) for row in result)


def changes(session, object_type, object_id, step):
    """The row changes of a step as a list of ``Change``; see
    ``iter_changes``, which reads them in batches instead."""
    return list(iter_changes(session, object_type, object_id, step))


def verify(session):
    """Why capture could miss writes in this database, as a list of
    ``Problem`` (empty: capture is complete): a tracked table whose
    trigger is disabled or missing, an untracked table a foreign key
    action of a tracked table writes, ``session_replication_role =
    replica`` in the session.  Run in the session's transaction."""
    connection = _session(session).connection()
    rows = connection.execute(
        text("SELECT CAST(v.tbl AS pg_catalog.text), v.problem FROM %s.undoredo_verify() AS v"
             % _schema(connection))).all()
    return [Problem(*row) for row in rows]


def clear(session, object_type, object_id):
    """Forget the object's whole history, in the session's transaction."""
    connection = _session(session).connection()
    connection.execute(
        text("SELECT %s.undoredo_clear(CAST(:t AS pg_catalog.text),"
             " CAST(:i AS pg_catalog.text))" % _schema(connection)),
        {"t": object_type, "i": _id(object_id)})
