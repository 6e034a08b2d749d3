#!/usr/bin/python3
"""Model-based randomized test of undoredo (issue 4, section 1).

What it proves: under random workloads the database after every call is
exactly what an independent model predicts, and undoredo_status and
undoredo_history report the model's counts, step ids, labels and change
counts.  The workload: INSERT/UPDATE/DELETE on three tracked tables (foreign
keys with ON DELETE CASCADE and ON UPDATE CASCADE, a self-referencing tree,
a UNIQUE column; bytea, numeric of varying scale, float8 with NaN/-0/
Infinity, one- and multi-dimensional arrays with non-default bounds, jsonb,
timestamptz, text with quotes and backslashes, NULLs, now and then a 100 kB
incompressible text that is TOASTed), as multi-row statements, primary-key
changes, upserts, MERGE, no-op updates, failing statements, rolled-back
savepoints and transactions, under several scopes (SET LOCAL
undoredo.scope, a scope switch inside a transaction, labels, max_steps),
interleaved with undo and redo (one step, several, more than available,
inside a transaction that is rolled back) and undoredo_clear.

How: the model reads back, after each statement of a captured transaction,
which rows it changed (rows are followed by a hidden stable column "uid", so
a primary-key change is an update), groups them into steps per scope, and
replays undo/redo on its own copy of the tables with the contract's conflict
rules.  Rows are compared in their types' binary send form (the 100 kB text
by the SHA-256 of it), so 1.50 vs 1.5, -0 vs 0 and NaN are told apart
whatever the session settings; the undo/redo client runs with odd TimeZone,
DateStyle, extra_float_digits and search_path to show they do not matter.
- Mode A: every scope writes only its own key range (and names), so no
  conflict may occur; each scope also keeps a stack of full snapshots of its
  rows per history position, which must agree with the database.
- Mode B: writes outside any scope also update, delete and insert rows in
  those ranges.  An undo/redo must succeed with the modelled result when
  every row its steps touched is still as they left it (the touched rows get
  their images back, other rows keep their current values), and otherwise
  fail with SQLSTATE UR001 naming a table and key of the step, changing
  neither data nor counts.  Outside writes leave keys, foreign keys and the
  UNIQUE column alone, insert only childless rows and delete only leaves, so
  that no undo can fail for a reason other than a conflict or the refusal
  below.
- Both modes: a step whose replay removes a primary-key value of a table that
  foreign keys with ON DELETE/ON UPDATE actions reference (node, account) and
  then re-creates it is refused with SQLSTATE 0A000 naming the step and the
  key, the whole call changing nothing.  The model replays each step's
  statements in replay order (undo: reversed and inverted) and follows the
  removed and created keys (recreated_keys); the first step that fails
  decides the call.  Inside a transaction, inserts and key changes now and
  then take a key that an earlier statement removed, so that steps get
  refused in every run.

Run inside pg_virtualenv with the extension installed:
    model_test.py                            fixed CI seeds, both modes
    model_test.py --seed N --mode B [--ops K]  one run (to reproduce)
    model_test.py --soak SEEDS SECONDS       random seeds (test/soak.sh)
"""
import argparse
import datetime
import os
import random
import sys
import time

import psycopg2

SCHEMA = "undoredo_model"
SCOPES = [("model_doc", 1), ("model_doc", 2), ("model_sheet", "a-1")]
KEYS = 40           # keys per scope and table: few, so that keys collide
CI_RUNS = [(1, "A"), (2, "A"), (1, "B"), (2, "B")]
CI_OPS = 750

# data columns (besides "id" int PRIMARY KEY and "uid" bigint) and types
COLUMNS = {
    "account": [("name", "text"), ("balance", "numeric"), ("tags", "text[]"),
                ("meta", "jsonb"), ("big", "text")],
    "node": [("parent_id", "int"), ("weight", "float8"), ("grid", "int[]"),
             ("at", "timestamptz"), ("raw", "bytea")],
    "item": [("account_id", "int"), ("qty", "numeric"), ("note", "text"),
             ("price", "float8")],
}
FOREIGN = {("node", "parent_id"): "node", ("item", "account_id"): "account"}
# the tables that foreign keys with an ON DELETE or ON UPDATE action reference
# (node.parent_id ON DELETE CASCADE, item.account_id ON DELETE/UPDATE
# CASCADE): a replayed step must not remove and re-create a key of these
FK_ACTION_TABLES = {"node", "account"}
# what writes outside any scope may change (mode B)
OUTSIDE = {"account": ["balance", "tags", "meta", "big"],
           "node": ["weight", "grid", "at", "raw"],
           "item": ["qty", "note", "price"]}

NUMERICS = ["1.5", "1.50", "1.500", "0", "0.00", "-0.0", "NaN", "Infinity",
            "-Infinity", "12345678901234567890.123456789",
            "0.000000000000000000001", "-42"]
FLOATS = ["0", "-0", "NaN", "Infinity", "-Infinity", "1.5", "0.1", "1e308",
          "5e-324", "-2.5e-10"]
TEXTS = ["", "it's", "back\\slash", "ünïcødé ✓", "tab\there\nnewline",
         "NULL", "  spaced  ", "'); DROP TABLE x; --"]
TEXT_ARRAYS = ["{}", '{a,NULL,"b c"}', "{{a,b},{c,d}}", "[2:3]={x,y}",
               '{"with \\"quote\\"","back\\\\slash"}']
INT_ARRAYS = ["{}", "{1,NULL,3}", "{{1,2},{3,4}}", "[0:1][5:6]={{1,2},{3,4}}",
              "{{{1}},{{2}}}", "[-3:-2]={7,8}"]
JSONS = ['{"a": 1, "b": [1, 2.50]}', '{"a": 1, "b": [1, 2.5]}', "[]", "null",
         '"str \\" q"', '{"k": 1.0}', '{"k": 1.00}',
         '{"nested": {"x": [null, true, false]}}']
TIMES = ["2024-02-29 12:34:56.789012+00", "1999-12-31 23:59:59.999999-08",
         "infinity", "-infinity", "2000-01-01 00:00:00+00",
         "1970-01-01 00:00:00.000001+00"]
# update expressions that change a value's stored form in subtle ways
EXPRS = {"numeric": ["{c} * 1.0", "{c} + 0.00", "pg_catalog.round({c}, 1)"],
         "float8": ["- {c}", "{c} * 0"],
         "text": ["{c} || 'x'"]}
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
ACCEPTED_STATEMENT_ERRORS = {"23505", "23503"}  # unique, foreign key


def qi(name):
    return '"' + name.replace('"', '""') + '"'


def qt(table):
    return qi(SCHEMA) + "." + qi(table)


DDL = f"""
CREATE SCHEMA {qi(SCHEMA)};
CREATE TABLE {qt("account")} (
    "id" int PRIMARY KEY, "uid" bigint NOT NULL, "name" text NOT NULL UNIQUE,
    "balance" numeric, "tags" text[], "meta" jsonb, "big" text);
CREATE TABLE {qt("node")} (
    "id" int PRIMARY KEY, "uid" bigint NOT NULL,
    "parent_id" int REFERENCES {qt("node")} ON DELETE CASCADE,
    "weight" float8, "grid" int[], "at" timestamptz, "raw" bytea);
CREATE TABLE {qt("item")} (
    "id" int PRIMARY KEY, "uid" bigint NOT NULL,
    "account_id" int REFERENCES {qt("account")}
        ON DELETE CASCADE ON UPDATE CASCADE,
    "qty" numeric, "note" text, "price" float8);
"""


def owner(key):
    """The scope whose range holds a (table, id) key."""
    return key[1] // 1000 - 1


class Failure(Exception):
    pass


class Conflict(Exception):
    def __init__(self, rows):
        super().__init__(rows)
        self.rows = rows


# A row change: ("ins", table, id, row), ("del", table, id, row) or
# ("upd", table, from_id, to_id, {column index: (old, new)}); a row is
# (uid, tuple of send forms of every column).
def invert(ch):
    if ch[0] == "ins":
        return ("del",) + ch[1:]
    if ch[0] == "del":
        return ("ins",) + ch[1:]
    _, t, k0, k1, cols = ch
    return ("upd", t, k1, k0, {i: (n, o) for i, (o, n) in cols.items()})


def apply_group(state, group):
    """Apply one statement's changes to state, with the contract's checks:
    an insert needs a free key, a delete the whole row as recorded, an update
    the changed columns as recorded.  Raises Conflict, state then undefined."""
    bad = []
    for ch in group:
        key = (ch[1], ch[2])
        if ch[0] == "ins":
            ok = key not in state
        elif ch[0] == "del":
            ok = state.get(key) == ch[3]
        else:
            cur = state.get(key)
            ok = cur is not None and all(cur[1][i] == o
                                         for i, (o, _) in ch[4].items())
        if not ok:
            bad.append(key)
    if bad:
        raise Conflict(bad)
    placed = []
    for ch in group:
        if ch[0] == "ins":
            placed.append(((ch[1], ch[2]), ch[3]))
        elif ch[0] == "del":
            del state[(ch[1], ch[2])]
        else:
            uid, vals = state.pop((ch[1], ch[2]))
            vals = list(vals)
            for i, (_, n) in ch[4].items():
                vals[i] = n
            placed.append(((ch[1], ch[3]), (uid, tuple(vals))))
    for key, row in placed:
        if key in state:        # a key taken since
            raise Conflict([key])
        state[key] = row


def diff(before, after):
    """The row changes between two states, rows matched by uid."""
    def by_uid(state):
        out = {(t, row[0]): (k, row) for (t, k), row in state.items()}
        if len(out) != len(state):
            raise Failure("two rows share a uid: a row was duplicated")
        return out
    b, a = by_uid(before), by_uid(after)
    changes = []
    for tu in sorted(b.keys() | a.keys()):
        t = tu[0]
        if tu not in a:
            changes.append(("del", t) + b[tu])
        elif tu not in b:
            changes.append(("ins", t) + a[tu])
        else:
            (k0, r0), (k1, r1) = b[tu], a[tu]
            cols = {i: (o, n) for i, (o, n) in enumerate(zip(r0[1], r1[1]))
                    if o != n}
            if cols:
                changes.append(("upd", t, k0, k1, cols))
    return changes


def fk_events(group, tables=FK_ACTION_TABLES):
    """The keys of tables that one statement's changes remove (a delete, or
    an update of the key away from it) and create (an insert, or an update
    of a key onto it)."""
    removed, created = set(), set()
    for ch in group:
        if ch[1] not in tables:
            continue
        if ch[0] == "ins":
            created.add((ch[1], ch[2]))
        elif ch[0] == "del":
            removed.add((ch[1], ch[2]))
        elif ch[2] != ch[3]:
            removed.add((ch[1], ch[2]))
            created.add((ch[1], ch[3]))
    return removed, created


def recreated_keys(groups, removed=None):
    """For statements' changes in the order a replay applies them (inverted
    and reversed for undo): per statement, the keys of FK_ACTION_TABLES that
    it creates after the replay of this step has removed them, which the
    contract refuses (SQLSTATE 0A000).  The order of the changes inside one
    statement is not known to the model, but it does not matter: a statement
    that both removes and creates one key (UPDATE SET id = id + 1 over
    neighbours) removes it first, as the primary key is checked row by row,
    and the replay of its inverse does too (reversed order, inverted
    changes).  removed (a set, updated) carries on an earlier sequence."""
    removed = set() if removed is None else removed
    out = []
    for g in groups:
        rem, cre = fk_events(g)
        removed |= rem
        out.append(sorted(cre & removed))
    return out


def replay_groups(step, kind):
    """A step's statements as its undo or redo applies them, in order."""
    if kind == "undo":
        return [[invert(c) for c in g] for g in reversed(step["groups"])]
    return step["groups"]


def touched_keys(step):
    return {(ch[1], k) for g in step["groups"] for ch in g
            for k in ((ch[2], ch[3]) if ch[0] == "upd" else (ch[2],))}


class History:
    """The model of one scope: steps (oldest first), how many are undoable,
    and (mode A) snaps[i] = the scope's rows after steps[:i]."""
    def __init__(self, snap):
        self.steps = []
        self.pos = 0
        self.snaps = [snap]


class Run:
    def __init__(self, writer, undoer, ext, seed, mode, ops):
        self.wc = writer.cursor()
        self.uc = undoer.cursor()
        self.ext = ext
        self.seed, self.mode, self.ops = seed, mode, ops
        self.r = random.Random(f"{seed}/{mode}")
        self.log = []
        self.n = 0          # the operation running (0: the initial check)
        self.count = dict.fromkeys(
            ["capture", "steps", "undo", "redo", "UR001", "0A000", "clear",
             "outside",
             "statements", "statement errors", "re-creating statements"], 0)
        self.next_uid = 1
        self.setup()
        self.state = {}
        self.hist = [History({}) for _ in SCOPES]

    # ---------------------------------------------------------------- setup
    def setup(self):
        c = self.wc
        for otype, oid in SCOPES:
            c.execute(f"SELECT {self.ext}.undoredo_clear(%s, %s::text)",
                      (otype, str(oid)))
        c.execute(f"DROP SCHEMA IF EXISTS {qi(SCHEMA)} CASCADE")
        c.execute(DDL)
        self.select, self.cols = {}, {}
        for t in COLUMNS:
            c.execute(f"SELECT {self.ext}.undoredo_track(%s::regclass)",
                      (qt(t),))
            c.execute("""SELECT a.attname, p.proname
                           FROM pg_catalog.pg_attribute a
                           JOIN pg_catalog.pg_type y ON y.oid = a.atttypid
                           JOIN pg_catalog.pg_proc p ON p.oid = y.typsend
                          WHERE a.attrelid = %s::regclass AND a.attnum > 0
                            AND NOT a.attisdropped ORDER BY a.attnum""",
                      (qt(t),))
            exprs = []
            self.cols[t] = []
            for name, send in c.fetchall():
                e = f"pg_catalog.{qi(send)}(t.{qi(name)})"
                if name == "big":
                    e = f"pg_catalog.sha256({e})"
                exprs.append(e)
                self.cols[t].append(name)
            self.select[t] = (f'SELECT t."id", t."uid", {", ".join(exprs)} '
                              f"FROM {qt(t)} AS t")

    def read(self, cur):
        state = {}
        for t in COLUMNS:
            cur.execute(self.select[t])
            for row in cur:
                state[(t, row[0])] = (row[1], tuple(
                    None if v is None else bytes(v) for v in row[2:]))
        return state

    # ------------------------------------------------------------- logging
    def note(self, text):
        self.log.append(f"#{self.n} {text}")

    def w(self, sql, params=None):
        """Execute on the writer, logging the statement."""
        text = self.wc.mogrify(sql, params).decode("utf-8", "replace")
        self.note("   " + (text if len(text) < 300 else text[:300] + "..."))
        self.wc.execute(sql, params)

    def show(self, v):
        return "NULL" if v is None else (
            v.hex() if len(v) <= 40 else v[:40].hex() + "...")

    def describe_diff(self, expected, actual):
        out = []
        for key in sorted(expected.keys() | actual.keys()):
            e, a = expected.get(key), actual.get(key)
            if e == a:
                continue
            t = key[0]
            if e is None or a is None:
                row = ", ".join(f"{name}={self.show(v)}" for name, v
                                in zip(self.cols[t], (e or a)[1]))
                out.append(f"  {t} id={key[1]}: expected "
                           f"{'no row' if e is None else 'this row'}, found "
                           f"{'no row' if a is None else 'this row'}: {row}")
                continue
            for i, name in enumerate(self.cols[t]):
                if e[1][i] != a[1][i]:
                    out.append(f"  {t} id={key[1]} {name}: expected "
                               f"{self.show(e[1][i])}, found "
                               f"{self.show(a[1][i])}")
        return "\n".join(out[:40])

    # ----------------------------------------------------- value generation
    def own_ids(self, table, s, state):
        return sorted(k for (t, k) in state if t == table and
                      owner((t, k)) == s)

    def any_id(self, s):
        return 1000 * (s + 1) + self.r.randrange(KEYS)

    def pick_ids(self, table, s, state, most=3):
        own = self.own_ids(table, s, state)
        ids = {self.r.choice(own) if own and self.r.random() < 0.9
               else self.any_id(s) for _ in range(self.r.randint(1, most))}
        return sorted(ids)

    def value(self, table, col, typ, s, state):
        r = self.r
        if col == "name":       # scope-prefixed: collides within a scope only
            return f"s{s}-{r.randrange(8)}"
        if (table, col) in FOREIGN:
            own = self.own_ids(FOREIGN[(table, col)], s, state)
            return r.choice(own) if own and r.random() < 0.8 else None
        if r.random() < 0.12:
            return None
        if col == "big":
            if r.random() < 0.08:   # incompressible enough to go out of line
                return "".join(r.choices(ALPHABET, k=100_000))
            return r.choice(TEXTS)
        if typ == "numeric":
            return (r.choice(NUMERICS) if r.random() < 0.7
                    else f"{r.uniform(-1e4, 1e4):.{r.randrange(6)}f}")
        if typ == "float8":
            return (r.choice(FLOATS) if r.random() < 0.7
                    else repr(r.uniform(-1e6, 1e6)))
        if typ == "text":
            return r.choice(TEXTS) + (str(r.randrange(100))
                                      if r.random() < 0.5 else "")
        if typ == "text[]":
            return r.choice(TEXT_ARRAYS)
        if typ == "int[]":
            return r.choice(INT_ARRAYS)
        if typ == "jsonb":
            return r.choice(JSONS)
        if typ == "timestamptz":
            if r.random() < 0.5:
                return r.choice(TIMES)
            zone = datetime.timezone(datetime.timedelta(
                minutes=15 * r.randrange(-48, 57)))
            return datetime.datetime.fromtimestamp(
                r.randrange(-10**9, 4 * 10**9) + r.randrange(10**6) / 1e6,
                zone).isoformat()
        if typ == "bytea":
            return psycopg2.Binary(bytes(r.getrandbits(8)
                                         for _ in range(r.randrange(40))))
        raise AssertionError(typ)

    def assignment(self, table, col, typ, s, state):
        """ "col" = <value or expression>, with its parameters."""
        if typ in EXPRS and (table, col) not in FOREIGN \
                and self.r.random() < 0.25:
            return (f"{qi(col)} = " +
                    self.r.choice(EXPRS[typ]).format(c=qi(col)), [])
        return f"{qi(col)} = %s::{typ}", [
            self.value(table, col, typ, s, state)]

    def new_row(self, table, s, state, rid):
        uid = self.next_uid
        self.next_uid += 1
        return [rid, uid] + [self.value(table, c, typ, s, state)
                             for c, typ in COLUMNS[table]]

    # ------------------------------------------------------------ statements
    def statement(self, s, state, removed=()):
        """A random statement on scope s's rows: (sql, params).  removed:
        keys that the transaction removed, which inserts and key changes
        now and then take again (a step that removes and re-creates a key
        that foreign key actions reference cannot be replayed)."""
        r = self.r
        again = sorted(k for k in removed if owner(k) == s)
        if again and r.random() < 0.4:
            t, reuse = r.choice(again)
            kind = r.choice(["insert", "insert", "pk"])
        else:
            t, reuse = r.choice(list(COLUMNS)), None
            kind = r.choices(["insert", "update", "pk", "shift", "delete",
                              "upsert", "merge", "noop"],
                             [25, 30, 6, 3, 14, 8, 5, 4])[0]
        cols = COLUMNS[t]
        names = ", ".join(qi(c) for c in ["id", "uid"] + [c for c, _ in cols])
        placeholders = ", ".join(["%s::int", "%s::bigint"] +
                                 [f"%s::{typ}" for _, typ in cols])
        if kind == "insert":
            rows = []
            for _ in range(r.randint(1, 3)):
                rows.append(self.new_row(t, s, state, self.any_id(s)
                                         if reuse is None or rows else reuse))
                if t == "node" and len(rows) > 1 and r.random() < 0.5:
                    rows[-1][2] = rows[-2][0]   # child of the previous row
            return (f"INSERT INTO {qt(t)} ({names}) VALUES " +
                    ", ".join([f"({placeholders})"] * len(rows)),
                    [v for row in rows for v in row])
        if kind == "update":
            chosen = r.sample(cols, r.randint(1, min(3, len(cols))))
            sets, params = [], []
            for c, typ in chosen:
                sql, p = self.assignment(t, c, typ, s, state)
                sets.append(sql)
                params.extend(p)
            return (f"UPDATE {qt(t)} SET {', '.join(sets)} "
                    f'WHERE "id" = ANY(%s::int[])',
                    params + [self.pick_ids(t, s, state)])
        if kind == "pk":
            return (f'UPDATE {qt(t)} SET "id" = %s WHERE "id" = %s',
                    [self.any_id(s) if reuse is None else reuse,
                     self.pick_ids(t, s, state, 1)[0]])
        if kind == "shift":
            return (f'UPDATE {qt(t)} SET "id" = "id" + 1 '
                    f'WHERE "id" = ANY(%s::int[])', [self.pick_ids(t, s, state)])
        if kind == "delete":
            if r.random() < 0.3:
                lo = self.any_id(s)
                return (f'DELETE FROM {qt(t)} WHERE "id" BETWEEN %s AND %s',
                        [lo, lo + r.randrange(5)])
            return (f'DELETE FROM {qt(t)} WHERE "id" = ANY(%s::int[])',
                    [self.pick_ids(t, s, state)])
        if kind == "upsert":
            rid = self.pick_ids(t, s, state, 1)[0]
            chosen = r.sample(cols, r.randint(1, min(2, len(cols))))
            sets = ", ".join(f"{qi(c)} = EXCLUDED.{qi(c)}" for c, _ in chosen)
            return (f"INSERT INTO {qt(t)} ({names}) VALUES ({placeholders}) "
                    f'ON CONFLICT ("id") DO UPDATE SET {sets}',
                    self.new_row(t, s, state, rid))
        if kind == "merge":
            c, typ = r.choice(cols[1:])     # a column that is no key
            rid = self.pick_ids(t, s, state, 1)[0]
            v = self.value(t, c, typ, s, state)
            uid = self.next_uid
            self.next_uid += 1
            return (f"MERGE INTO {qt(t)} AS t USING (VALUES (%s::int, "
                    f"%s::{typ})) AS v(id, x) ON t.\"id\" = v.id "
                    f"WHEN MATCHED THEN UPDATE SET {qi(c)} = v.x "
                    f'WHEN NOT MATCHED THEN INSERT ("id", "uid", {qi(c)}'
                    + (', "name"' if t == "account" else "") +
                    ") VALUES (v.id, %s::bigint, v.x"
                    + (", %s::text" if t == "account" else "") + ")",
                    [rid, v, uid] + ([f"s{s}-m{rid}"] if t == "account" else []))
        c = r.choice(cols)[0]          # noop: no stored form changes
        return (f'UPDATE {qt(t)} SET {qi(c)} = {qi(c)} '
                f'WHERE "id" = ANY(%s::int[])', [self.pick_ids(t, s, state)])

    # ------------------------------------------------------------ operations
    def scope_text(self, s):
        return f"{SCOPES[s][0]}:{SCOPES[s][1]}"

    def op_capture(self):
        """One transaction of random statements under a scope (sometimes two
        scopes); each statement in a savepoint."""
        r = self.r
        s = r.randrange(len(SCOPES))
        self.count["capture"] += 1
        self.note("capture")
        self.w("BEGIN")
        self.w("SET LOCAL undoredo.scope = %s", (self.scope_text(s),))
        label = None
        if r.random() < 0.7:
            label = f"op {self.n}: it's \\ ✓"
            self.w("SET LOCAL undoredo.label = %s", (label,))
        max_steps = 0
        if r.random() < 0.05:
            max_steps = r.randint(1, 4)
            self.w("SET LOCAL undoredo.max_steps = %s", (max_steps,))
        state = self.state
        pending = {}
        removed = set()     # keys removed so far (of every table)
        for _ in range(r.randint(1, 4)):
            if r.random() < 0.15:
                if r.random() < 0.3:
                    label = None
                    self.w("SET LOCAL undoredo.label TO DEFAULT")
                else:
                    label = f"relabel {self.n}"
                    self.w("SET LOCAL undoredo.label = %s", (label,))
            if r.random() < 0.1:
                s = r.randrange(len(SCOPES))
                self.w("SET LOCAL undoredo.scope = %s", (self.scope_text(s),))
            sql, params = self.statement(s, state, removed)
            self.count["statements"] += 1
            self.w("SAVEPOINT sp")
            try:
                self.w(sql, params)
            except psycopg2.Error as e:
                if e.pgcode not in ACCEPTED_STATEMENT_ERRORS:
                    raise Failure(f"statement failed with {e.pgcode}: "
                                  f"{e.pgerror}")
                self.count["statement errors"] += 1
                self.note(f"   -> {e.pgcode}, rolled back to savepoint")
                self.w("ROLLBACK TO SAVEPOINT sp")
                continue
            if r.random() < 0.05:
                self.w("ROLLBACK TO SAVEPOINT sp")
                continue
            self.w("RELEASE SAVEPOINT sp")
            after = self.read(self.wc)
            changes = diff(state, after)
            self.note(f"   -> {len(changes)} row changes")
            if any(recreated_keys([changes], set(removed))):
                self.count["re-creating statements"] += 1
            removed |= fk_events(changes, COLUMNS)[0]
            if changes:
                if self.mode == "A" and any(owner((ch[1], ch[2])) != s
                                            for ch in changes):
                    raise Failure("generator wrote outside its scope's range")
                pending.setdefault(s, {"groups": [], "label": label})
                pending[s]["groups"].append(changes)
            state = after
        if r.random() < 0.06:
            self.w("ROLLBACK")
            return
        self.w("COMMIT")
        self.state = state
        for s, p in sorted(pending.items()):
            self.record(s, p, max_steps)

    def record(self, s, step, max_steps):
        h = self.hist[s]
        del h.steps[h.pos:]
        del h.snaps[h.pos + 1:]
        step["changes"] = sum(len(g) for g in step["groups"])
        h.steps.append(step)
        h.pos += 1
        if self.mode == "A":
            h.snaps.append(self.owned(s, self.state))
        if max_steps and h.pos > max_steps:
            drop = h.pos - max_steps
            del h.steps[:drop]
            del h.snaps[:drop]
            h.pos -= drop
        self.count["steps"] += 1
        rows = self.history(s)
        if len(rows) != len(h.steps):
            raise Failure(f"scope {self.scope_text(s)}: history has "
                          f"{len(rows)} steps, model {len(h.steps)}")
        earlier = [st["id"] for st in h.steps[:-1]]
        if earlier and rows[-1][0] <= max(earlier):
            raise Failure(f"new step id {rows[-1][0]} is not above {earlier}")
        step["id"] = rows[-1][0]

    def owned(self, s, state):
        return {k: v for k, v in state.items() if owner(k) == s}

    def scope_args(self, s):
        """(object_type, id) parameters and their SQL: bigint or text form."""
        otype, oid = SCOPES[s]
        if isinstance(oid, int) and self.r.random() < 0.5:
            return "%s, %s::bigint", [otype, oid]
        return "%s, %s::text", [otype, str(oid)]

    def predict(self, h, kind, k, expected):
        """Replays k steps of history h on expected (a copy of the state) as
        undo or redo does, step by step and statement by statement.  Returns
        None when the call must succeed (expected then holds the result), or
        (the first step that fails, {SQLSTATE: what the error must name}):
        UR001 with the rows in conflict, 0A000 with the keys that the replay
        removes and re-creates.  Within a step the replay refuses a
        re-created key as it meets the change, but may find a conflict only
        later (it applies runs of changes of one table as one statement), so:
        a refusal in an earlier statement than the first conflict is 0A000;
        a conflict with no refusal in the step is UR001; a conflict in the
        same or an earlier statement than a refusal may be either."""
        for i in range(k):
            step = h.steps[h.pos - 1 - i] if kind == "undo" \
                else h.steps[h.pos + i]
            groups = replay_groups(step, kind)
            again = recreated_keys(groups)
            first = next((n for n, keys in enumerate(again) if keys), None)
            for n, g in enumerate(groups):
                if first is not None and first < n:
                    break       # refused before any conflict
                try:
                    apply_group(expected, g)
                except Conflict as c:
                    errors = {"UR001": c.rows}
                    if first is not None:
                        errors["0A000"] = again[first]
                    return step, errors
            if first is not None:
                return step, {"0A000": again[first]}
        return None

    def op_replay(self, kind):
        r = self.r
        s = r.randrange(len(SCOPES))
        h = self.hist[s]
        steps = r.choice([1, 1, 1, 1, 2, 3, None, 50])
        available = h.pos if kind == "undo" else len(h.steps) - h.pos
        k = min(steps or 1, available)
        self.count[kind] += 1
        expected = dict(self.state)
        failure = self.predict(h, kind, k, expected)
        failing, errors = failure or (None, {})
        if "UR001" in errors and self.mode == "A":
            raise Failure(f"model predicts a conflict in mode A: "
                          f"{errors['UR001']}")
        new_pos = h.pos + (-k if kind == "undo" else k)
        in_txn = not errors and r.random() < 0.08
        args, params = self.scope_args(s)
        if steps is not None:
            args += ", %s"
            params.append(steps)
        sql = (f"SELECT undo_count, redo_count FROM "
               f"{self.ext}.undoredo_{kind}({args})")
        want = " or ".join(f"{code} on {what} in step {failing['id']}"
                           for code, what in sorted(errors.items()))
        self.note(f"{kind} {self.scope_text(s)} steps={steps} "
                  f"{'in a rolled-back transaction ' if in_txn else ''}"
                  f"model: {want or 'ok'}"
                  f" -> ({new_pos}, {len(h.steps) - new_pos})")
        try:
            if in_txn:
                self.uc.execute("BEGIN")
            self.uc.execute(sql, params)
            got = self.uc.fetchone()
        except psycopg2.Error as e:
            if in_txn:
                self.uc.execute("ROLLBACK")
            text = e.pgerror + (e.diag.message_detail or "")
            if e.pgcode not in errors:
                raise Failure(f"{kind} raised {e.pgcode}: {text}; model "
                              f"expected {want or 'success'}")
            self.count[e.pgcode] += 1
            if e.pgcode == "UR001":
                if not any(f'"{t}"' in text and f"(id)=({key})" in text
                           for t, key in touched_keys(failing)):
                    raise Failure(f"UR001 names no row of the step: {text}")
            else:
                # the message of the contract, naming the step and the key
                if not any(e.diag.message_primary ==
                           f"cannot {kind} step {failing['id']}: it removes "
                           f"and re-creates row (id)=({key}) of table "
                           f'"{t}", which foreign keys with ON DELETE or ON '
                           f"UPDATE actions reference"
                           for t, key in errors["0A000"]):
                    raise Failure(f"0A000 names another step or key than "
                                  f"{failing['id']} {errors['0A000']}: "
                                  f"{text}")
            self.note(f"   -> {e.pgcode} as expected")
            return
        if errors:
            raise Failure(f"{kind} returned {got}; model expected {want}")
        if got != (new_pos, len(h.steps) - new_pos):
            raise Failure(f"{kind} returned {got}, model "
                          f"{(new_pos, len(h.steps) - new_pos)}")
        if in_txn:
            inside = self.read(self.uc)
            self.uc.execute("ROLLBACK")
            if inside != expected:
                raise Failure("inside the transaction:\n"
                              + self.describe_diff(expected, inside))
            return
        self.state = expected
        h.pos = new_pos

    def op_clear(self):
        s = self.r.randrange(len(SCOPES))
        args, params = self.scope_args(s)
        self.count["clear"] += 1
        self.note(f"clear {self.scope_text(s)}")
        self.uc.execute(f"SELECT {self.ext}.undoredo_clear({args})", params)
        self.hist[s] = History(self.owned(s, self.state))

    def op_outside(self):
        """Mode B: a write under no scope to rows of the scopes' ranges."""
        r = self.r
        self.count["outside"] += 1
        self.note("outside write")
        kind = r.choice(["update", "update", "delete", "insert"])
        items = sorted(k for t, k in self.state if t == "item")
        if kind == "update" and self.state:
            t, rid = r.choice(sorted(self.state))
            typ = dict(COLUMNS[t])
            sets, params = [], []
            for c in r.sample(OUTSIDE[t], r.randint(1, 2)):
                sql, p = self.assignment(t, c, typ[c], owner((t, rid)),
                                         self.state)
                sets.append(sql)
                params.extend(p)
            self.w(f'UPDATE {qt(t)} SET {", ".join(sets)} WHERE "id" = %s',
                   params + [rid])
        elif kind == "delete" and items:
            self.w(f'DELETE FROM {qt("item")} WHERE "id" = ANY(%s::int[])',
                   [sorted(set(r.choices(items, k=2)))])
        else:
            row = self.new_row("item", 0, {}, self.any_id(
                r.randrange(len(SCOPES))))
            row[2] = None                       # no account
            try:
                self.w(f'INSERT INTO {qt("item")} VALUES '
                       "(%s, %s, %s, %s::numeric, %s, %s::float8)", row)
            except psycopg2.Error as e:
                if e.pgcode != "23505":
                    raise Failure(f"outside insert: {e.pgcode} {e.pgerror}")
                self.note("   -> 23505")
        self.state = self.read(self.wc)

    # ---------------------------------------------------------------- checks
    def history(self, s):
        args, params = self.scope_args(s)
        self.uc.execute(f"SELECT step, state, label, changes FROM "
                        f"{self.ext}.undoredo_history({args})", params)
        return self.uc.fetchall()

    def check(self):
        actual = self.read(self.wc)
        if self.mode == "A":
            snaps = {}
            for h in self.hist:
                snaps.update(h.snaps[h.pos])
            if snaps != self.state:
                raise Failure("the model's snapshots disagree with its "
                              "replay:\n" + self.describe_diff(snaps,
                                                               self.state))
        if actual != self.state:
            raise Failure("database differs from the model:\n"
                          + self.describe_diff(self.state, actual))
        for s, h in enumerate(self.hist):
            args, params = self.scope_args(s)
            self.uc.execute(f"SELECT undo_count, redo_count FROM "
                            f"{self.ext}.undoredo_status({args})", params)
            want = (h.pos, len(h.steps) - h.pos)
            got = self.uc.fetchone()
            if got != want:
                raise Failure(f"undoredo_status({self.scope_text(s)}) = "
                              f"{got}, model {want}")
            want = [(st["id"], "undo" if i < h.pos else "redo", st["label"],
                     st["changes"]) for i, st in enumerate(h.steps)]
            got = self.history(s)
            if got != want:
                raise Failure(f"undoredo_history({self.scope_text(s)}):\n"
                              f"  got   {got}\n  model {want}")

    def run(self):
        self.check()
        ops = [self.op_capture, lambda: self.op_replay("undo"),
               lambda: self.op_replay("redo"), self.op_clear]
        weights = [45, 25, 18, 2]
        if self.mode == "B":
            ops.append(self.op_outside)
            weights.append(16)
        for self.n in range(1, self.ops + 1):
            self.r.choices(ops, weights)[0]()
            self.check()


def connect(dsn, **settings):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    with conn.cursor() as c:
        for name, value in settings.items():
            c.execute("SELECT pg_catalog.set_config(%s, %s, false)",
                      (name, value))
    return conn


def run_one(dsn, ext, seed, mode, ops):
    """Runs one seed/mode, prints its line; returns (ok, operations)."""
    # expected statement errors: keep their (up to 100 kB) text out of the log
    writer = connect(dsn, log_min_error_statement="panic")
    # the undo client: other settings, which must not matter
    undoer = connect(dsn, TimeZone="Pacific/Chatham", DateStyle="SQL, DMY",
                     extra_float_digits="-3", search_path="pg_catalog")
    run = Run(writer, undoer, ext, seed, mode, ops)
    name = f"model seed {seed} mode {mode}"
    start = time.monotonic()
    try:
        run.run()
    except (Failure, psycopg2.Error) as e:
        print(f"{name} ... FAIL", flush=True)
        print(f"seed {seed}, mode {mode}, failed at operation {run.n}: {e}")
        print("reproduce: pg_virtualenv -t -v 15 /usr/bin/python3 "
              f"test/model_test.py --seed {seed} --mode {mode} "
              f"--ops {run.n}")
        print("operation log (tail):")
        print("\n".join(run.log[-40:]), flush=True)
        return False, run.n
    finally:
        writer.close()
        undoer.close()
    counts = ", ".join(f"{k} {v}" for k, v in run.count.items())
    print(f"{name}: {ops} operations ({counts}) in "
          f"{time.monotonic() - start:.1f}s ... ok", flush=True)
    return True, ops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int)
    ap.add_argument("--mode", choices=["A", "B"])
    ap.add_argument("--ops", type=int, default=CI_OPS)
    ap.add_argument("--soak", nargs=2, type=int, metavar=("SEEDS", "SECONDS"))
    args = ap.parse_args()
    dsn = ""        # the PG* environment variables name the server
    with connect(dsn) as conn, conn.cursor() as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS undoredo")
        c.execute("""SELECT pg_catalog.quote_ident(n.nspname)
                       FROM pg_catalog.pg_extension e
                       JOIN pg_catalog.pg_namespace n
                         ON n.oid = e.extnamespace
                      WHERE e.extname = 'undoredo'""")
        ext = c.fetchone()[0]
    if args.soak:
        seeds, seconds = args.soak
        first = int.from_bytes(os.urandom(4), "big")
        start, total, done = time.monotonic(), 0, 0
        for seed in range(first, first + seeds):
            if time.monotonic() - start >= seconds:
                break
            for mode in "AB":
                ok, n = run_one(dsn, ext, seed, mode, args.ops)
                total += n
                if not ok:
                    print(f"soak: FAILED at seed {seed} mode {mode}")
                    return 1
            done += 1
        print(f"soak: {done} seeds (from {first}), both modes, {total} "
              f"operations in {time.monotonic() - start:.0f}s, all ok")
        return 0
    if args.seed is not None:
        runs = [(args.seed, m) for m in ([args.mode] if args.mode else "AB")]
    else:
        runs = CI_RUNS
    results = [run_one(dsn, ext, seed, mode, args.ops) for seed, mode in runs]
    print(f"model: {sum(n for _, n in results)} operations in "
          f"{len(runs)} runs")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
