"""The undoredo benchmark (make bench): capture and replay cost as ratios.

Every figure is a ratio to the same work on an untracked table measured in
the same run, against the server bench/run.sh started (pinned to one CPU).
Each measurement alternates its variants and is repeated (statements 5
times, pgbench runs 3 times); the median of the repetitions is reported.  Variants:
  untracked  the table without any trigger
  undoredo   tracked with undoredo_track, written under undoredo.scope
  plpgsql    the hand-written peer: a PL/pgSQL AFTER ROW trigger logging
             (op, to_jsonb(OLD), to_jsonb(NEW), txid_current()) to a table
Workloads (table doc, reloaded before every measurement):
  W1 INSERT ... SELECT generate_series of ROWS rows
  W2 one UPDATE of all rows, changing n and title
  W3 one DELETE of all rows
  W4 pgbench, 1 client, -M prepared, single-row UPDATE transactions on
     random ids, synchronous_commit on and off; every transaction is a step
  W5 pgbench, 2 clients on 2 CPUs (the server is widened to BENCH_W5_CPUS
     for it, see server_affinity), -M prepared, each transaction a
     single-row UPDATE of a random id under its own scope 'doc:<id>' (set
     with set_config(..., true), i.e. SET LOCAL); untracked and tracked
     only.  A separate connection samples pg_stat_activity every 50 ms
     during each run and counts the wait events of the pgbench backends;
     heavyweight lock waits are matched through pg_locks to what they wait
     for, and those on the extension's relations (heap, indexes, TOAST) or
     on its advisory lock spaces (scope lock, id lock) are counted apart.
Also: undo and redo of the W2 step (content checked; next to a hand-written
set-based restore of the same rows), a 1-row undo with a
large history of other scopes, history bytes per W2 row, and the backend's
peak memory while a 1,000,000-row step is undone.
Large values: the peak anonymous memory (RssAnon above the backend's own
start, sampled every 5 ms by test/pgmem.py) of a fresh backend while it
runs one UPDATE of a row holding a 100 MB bytea of incompressible bytes
(v = v || '\\x00'), untracked and tracked, then the undo and the redo of
that step; each as a ratio to the size of the value.
Nothing is asserted about time or memory: the bench prints numbers.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "test"))
from pgmem import PeakSampler  # noqa: E402

VARIANTS = ("untracked", "undoredo", "plpgsql")
# the installation bench/run.sh started the server from
BINDIR = os.environ.get("BENCH_BINDIR", "/usr/lib/postgresql/15/bin")
PGBENCH = os.path.join(BINDIR, "pgbench")
SCOPE = "doc:1"

LOAD = """INSERT INTO doc (id, title, body, n)
          SELECT i, 'title ' || i, rpad(md5(i::text), 200, md5(i::text)), i
          FROM generate_series(1, %s) AS i"""
WORK = {
    "W1": LOAD,
    "W2": "UPDATE doc SET n = n + 1, title = title || '!'",
    "W3": "DELETE FROM doc",
}


def connect():
    conn = psycopg2.connect("")
    conn.autocommit = True
    return conn


def history_tables(cur):
    """Every table of the extension (heap, indexes and TOAST are counted)."""
    cur.execute("""SELECT c.oid::regclass::text FROM pg_depend d
                   JOIN pg_extension e ON e.oid = d.refobjid
                   JOIN pg_class c ON c.oid = d.objid
                   WHERE d.classid = 'pg_class'::regclass
                     AND e.extname = 'undoredo' AND d.deptype = 'e'
                     AND c.relkind = 'r'""")
    return [r[0] for r in cur.fetchall()]


def history_bytes(cur):
    return sum(table_bytes(cur, t) for t in history_tables(cur))


def table_bytes(cur, table):
    cur.execute("SELECT pg_total_relation_size(%s)", (table,))
    return cur.fetchone()[0]


def reset(cur, variant, rows):
    """A fresh doc table with `rows` rows, set up as `variant`."""
    cur.execute("RESET undoredo.scope")
    cur.execute("DROP TABLE IF EXISTS doc, doc_log")
    cur.execute("""CREATE TABLE doc (id bigint PRIMARY KEY, title text NOT NULL,
                   body text, n int NOT NULL,
                   updated timestamptz NOT NULL DEFAULT now())""")
    cur.execute("TRUNCATE " + ", ".join(history_tables(cur)))
    if rows:
        cur.execute(LOAD, (rows,))
    if variant == "undoredo":
        cur.execute("SELECT undoredo_track('doc')")
    elif variant == "plpgsql":
        cur.execute("""CREATE TABLE doc_log (op text, old jsonb, new jsonb,
                       txid bigint)""")
        cur.execute("""CREATE TRIGGER doc_log AFTER INSERT OR UPDATE OR DELETE
                       ON doc FOR EACH ROW EXECUTE FUNCTION doc_log()""")
    cur.execute("VACUUM ANALYZE doc")
    cur.execute("CHECKPOINT")


def timed(cur, sql, args=None):
    start = time.perf_counter()
    cur.execute(sql, args)
    return time.perf_counter() - start


def median_ratios(samples, base="untracked", invert=False):
    med = {v: statistics.median(s) for v, s in samples.items()}
    if invert:
        return {v: med[v] / med[base] for v in med}, med
    return {v: med[v] / med[base] for v in med}, med


def measure_statements(cur, reps, rows, results):
    for name, sql in WORK.items():
        samples = {v: [] for v in VARIANTS}
        for rep in range(reps):
            order = VARIANTS[rep % 3:] + VARIANTS[:rep % 3]
            for variant in order:
                reset(cur, variant, 0 if name == "W1" else rows)
                cur.execute("SET undoredo.scope = %s", (SCOPE,))
                samples[variant].append(
                    timed(cur, sql, (rows,) if name == "W1" else None))
        ratios, med = median_ratios(samples)
        results[name] = (ratios, med)
        report(name, ratios, med, "s", samples)


def pgbench(seconds, sync, cpu):
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write("\\set id random(1, 100000)\n"
                 "UPDATE doc SET n = n + 1, updated = now() WHERE id = :id;\n")
    script.close()
    env = dict(os.environ)
    env["PGOPTIONS"] = ("-c undoredo.scope=%s -c synchronous_commit=%s"
                        % (SCOPE, sync))
    if os.environ.get("BENCH_ACTOR"):
        # every step records an actor (undoredo 1.2 and later)
        env["PGOPTIONS"] += " -c undoredo.actor=%s" % os.environ["BENCH_ACTOR"]
    out = subprocess.run(
        ["taskset", "-c", str(cpu), PGBENCH,
         "-n", "-M", "prepared", "-c", "1", "-T", str(seconds),
         "-f", script.name],
        env=env, check=True, capture_output=True, text=True).stdout
    os.unlink(script.name)
    return float(re.search(r"tps = ([0-9.]+)", out).group(1))


def measure_pgbench(cur, reps, rows, seconds, cpu, results):
    per_step = []
    for sync in ("on", "off"):
        samples = {v: [] for v in VARIANTS}
        for rep in range(reps):
            order = VARIANTS[rep % 3:] + VARIANTS[:rep % 3]
            for variant in order:
                reset(cur, variant, rows)
                base = history_bytes(cur)
                samples[variant].append(pgbench(seconds, sync, cpu))
                if variant == "undoredo":
                    added = history_bytes(cur) - base
                    cur.execute("SELECT count(*) FROM undo_action")
                    per_step.append(added / cur.fetchone()[0])
        ratios, med = median_ratios(samples)
        name = "W4 sync %s" % sync
        results[name] = (ratios, med)
        report(name, ratios, med, "tps", samples)
    # what one W4 transaction (one single-row step) adds to the history
    results["bytes per W4 step"] = statistics.median(per_step)
    print("history bytes per W4 step: %.0f" % results["bytes per W4 step"])


def content(cur):
    cur.execute("SELECT md5(string_agg(d::text, ',' ORDER BY id)) FROM doc d")
    return cur.fetchone()[0]


def measure_replay(cur, reps, rows, results):
    """Undo and redo of the W2 step against untracked W2, content checked."""
    samples = {"untracked W2": [], "undo": [], "redo": [], "by hand": []}
    per_row = []
    for rep in range(reps):
        reset(cur, "untracked", rows)
        cur.execute("CREATE TEMP TABLE before_w2 AS SELECT id, title, n FROM doc")
        samples["untracked W2"].append(timed(cur, WORK["W2"]))
        # the floor for a set-based undo: the same rows put back by one
        # hand-written UPDATE ... FROM a copy of the old values
        cur.execute("CHECKPOINT")
        samples["by hand"].append(timed(cur, """UPDATE doc SET title = b.title, n = b.n
                                                FROM before_w2 b WHERE doc.id = b.id"""))
        cur.execute("DROP TABLE before_w2")
        reset(cur, "undoredo", rows)
        before = content(cur)
        base = history_bytes(cur)
        cur.execute("SET undoredo.scope = %s", (SCOPE,))
        cur.execute(WORK["W2"])
        cur.execute("RESET undoredo.scope")
        per_row.append((history_bytes(cur) - base) / rows)
        after = content(cur)
        cur.execute("CHECKPOINT")
        samples["undo"].append(timed(cur, "SELECT * FROM undoredo_undo('doc', 1)"))
        check(content(cur) == before, "undo of W2 restores the table")
        cur.execute("CHECKPOINT")
        samples["redo"].append(timed(cur, "SELECT * FROM undoredo_redo('doc', 1)"))
        check(content(cur) == after, "redo of W2 restores the update")
    ratios, med = median_ratios(samples, base="untracked W2")
    results["replay"] = (ratios, med)
    report("undo/redo of W2", ratios, med, "s", samples)
    results["bytes per W2 row"] = statistics.median(per_row)
    print("history bytes per W2 row: %.0f" % results["bytes per W2 row"])


def check(ok, what):
    if not ok:
        sys.exit("benchmark check failed: " + what)


def measure_small_undo(cur, history_rows, calls, results):
    """A 1-row undo with `history_rows` rows of other scopes' history."""
    def undo_times():
        times = []
        for call in range(calls + 20):
            cur.execute("SET undoredo.scope = 'doc:2'")
            cur.execute("UPDATE doc SET n = n + 1 WHERE id = 1")
            cur.execute("RESET undoredo.scope")
            seconds = timed(cur, "SELECT * FROM undoredo_undo('doc', 2)")
            if call >= 20:  # the first ones warm caches and plans up
                times.append(seconds)
        return statistics.median(times)

    reset(cur, "undoredo", 1000)
    cur.execute("VACUUM ANALYZE")  # both measurements with fresh statistics
    empty = undo_times()
    # the other scopes' history is of another table, so that doc stays as
    # it was and only the size of the history differs
    cur.execute("DROP TABLE IF EXISTS other")
    cur.execute("CREATE TABLE other (id bigint PRIMARY KEY, v text)")
    cur.execute("SELECT undoredo_track('other')")
    for start in range(0, history_rows, 100000):
        cur.execute("SET undoredo.scope = %s", ("other:%d" % start,))
        cur.execute("""INSERT INTO other
                       SELECT i, 'x' FROM generate_series(%s, %s) i""",
                    (start + 1, start + 100000))
    cur.execute("RESET undoredo.scope")
    cur.execute("VACUUM ANALYZE")
    full = undo_times()
    results["small undo"] = full / empty
    print("1-row undo, %d rows of other history / empty history: %.2fx "
          "(%.3f ms / %.3f ms)" % (history_rows, full / empty,
                                   full * 1e3, empty * 1e3))


def backend_memory(pid, stop, peak):
    """Sample the backend's anonymous memory (kB) until stop is set."""
    while not stop.is_set():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return
        time.sleep(0.02)


def measure_big_undo(cur, rows, results):
    reset(cur, "undoredo", rows)
    cur.execute("SET undoredo.scope = 'doc:3'")
    cur.execute("UPDATE doc SET n = n + 1, title = title || '!'")
    cur.execute("RESET undoredo.scope")
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=backend_memory, args=(pid, stop, peak))
    sampler.start()
    seconds = timed(cur, "SELECT * FROM undoredo_undo('doc', 3)")
    stop.set()
    sampler.join()
    results["big undo MB"] = peak[0] / 1024
    print("undo of a %d-row step: %.1f s, backend peak RssAnon %.0f MB"
          % (rows, seconds, peak[0] / 1024))


# field4 of the extension's advisory lock tags (pg_locks.objsubid):
# the scope lock, the probe taken with it (catalog.c), the id lock (store.c)
LOCK_SPACES = {0x5552: "scope lock", 0x5550: "scope lock probe",
               0x5549: "id lock"}

W5_SCRIPT = """\\set id random(1, %d)
BEGIN;
SELECT pg_catalog.set_config('undoredo.scope', 'doc:' || :id::int, true);
UPDATE doc SET n = n + 1, updated = now() WHERE id = :id;
END;
"""


def server_pids():
    """The postmaster of bench/run.sh's server and its children."""
    pgdata = os.environ.get("BENCH_PGDATA")
    if not pgdata:
        return []
    with open(os.path.join(pgdata, "postmaster.pid")) as f:
        postmaster = int(f.readline())
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == postmaster:
            pids.append(int(entry))
    return pids


def server_affinity(cpus):
    """
    Let the server (postmaster, its running children, and so every backend
    it forks from now on) run on these CPUs.  bench/run.sh pins the server
    to one CPU with taskset; W5 widens it to two and narrows it back after.
    Needs root or the postgres user (as does reading /proc of backends).
    """
    for pid in server_pids():
        try:
            os.sched_setaffinity(pid, cpus)
        except ProcessLookupError:
            pass


def extension_relations(cur):
    """oid -> name of every relation of the extension, with indexes and TOAST."""
    cur.execute("""WITH t AS (
                     SELECT c.oid, c.reltoastrelid FROM pg_depend d
                     JOIN pg_extension e ON e.oid = d.refobjid
                     JOIN pg_class c ON c.oid = d.objid
                     WHERE d.classid = 'pg_class'::regclass
                       AND e.extname = 'undoredo' AND d.deptype = 'e')
                   SELECT oid FROM t
                   UNION SELECT reltoastrelid FROM t WHERE reltoastrelid <> 0
                   UNION SELECT i.indexrelid FROM pg_index i
                     WHERE i.indrelid IN (SELECT oid FROM t UNION
                                          SELECT reltoastrelid FROM t)""")
    oids = [r[0] for r in cur.fetchall()]
    cur.execute("SELECT oid, oid::regclass::text FROM pg_class "
                "WHERE oid = ANY(%s::oid[])", (oids,))
    return dict(cur.fetchall())


def sample_waits(stop, ext_rels, counts):
    """
    Every 50 ms: the wait events of the pgbench backends, counted by
    "type:event"; a heavyweight lock wait also by what it waits for (from
    pg_locks: the lock not granted, and for a wait on a transaction, the
    tuple lock the waiter holds), "ours" when that is one of the
    extension's relations or advisory lock spaces.
    """
    conn = connect()
    cur = conn.cursor()
    cur.execute("SET application_name = 'bench sampler'")
    while not stop.wait(0.05):
        cur.execute("""SELECT a.pid, a.wait_event_type, a.wait_event,
                              w.locktype, w.relation, w.objsubid, t.relation
                       FROM pg_stat_activity a
                       LEFT JOIN pg_locks w ON w.pid = a.pid AND NOT w.granted
                       LEFT JOIN pg_locks t ON t.pid = a.pid AND t.granted
                                           AND t.locktype = 'tuple'
                       WHERE a.application_name = 'pgbench'
                         AND a.wait_event_type IS NOT NULL""")
        counts["samples"] = counts.get("samples", 0) + 1
        for (pid, wtype, event, locktype, rel, objsubid,
             tuplerel) in cur.fetchall():
            key = "%s:%s" % (wtype, event)
            counts[key] = counts.get(key, 0) + 1
            if wtype != "Lock":
                continue
            if locktype == "advisory" and objsubid in LOCK_SPACES:
                what = "ours: " + LOCK_SPACES[objsubid]
            elif rel in ext_rels:
                what = "ours: %s %s" % (locktype, ext_rels[rel])
            elif locktype == "transactionid" and tuplerel in ext_rels:
                what = "ours: row of %s" % ext_rels[tuplerel]
            elif locktype is None:
                # pg_locks is read a moment after pg_stat_activity
                what = "over before pg_locks was read"
            else:
                what = "other: %s" % locktype
            counts["lock " + what] = counts.get("lock " + what, 0) + 1
    conn.close()


def pgbench_w5(seconds, cpus, rows, ext_rels):
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write(W5_SCRIPT % rows)
    script.close()
    counts = {}
    stop = threading.Event()
    sampler = threading.Thread(target=sample_waits,
                               args=(stop, ext_rels, counts))
    sampler.start()
    try:
        out = subprocess.run(
            ["taskset", "-c", ",".join(map(str, sorted(cpus))), PGBENCH,
             "-n", "-M", "prepared", "-c", "2", "-j", "2",
             "-T", str(seconds), "-f", script.name],
            check=True, capture_output=True, text=True).stdout
    finally:
        stop.set()
        sampler.join()
        os.unlink(script.name)
    return float(re.search(r"tps = ([0-9.]+)", out).group(1)), counts


def measure_w5(cur, reps, rows, seconds, cpu, results):
    cpus = os.environ.get("BENCH_W5_CPUS")
    cpus = ({int(c) for c in cpus.split(",")} if cpus
            else os.sched_getaffinity(0))
    if len(cpus) < 2:
        print("W5: fewer than 2 CPUs available (%s)" % sorted(cpus))
    if not server_pids():
        print("W5: BENCH_PGDATA not set, the server's CPUs are left as they are")
    ext_rels = extension_relations(cur)
    variants = ("untracked", "undoredo")
    samples = {v: [] for v in variants}
    waits = {v: {} for v in variants}
    server_affinity(cpus)
    try:
        for rep in range(reps):
            for variant in variants[rep % 2:] + variants[:rep % 2]:
                reset(cur, variant, rows)
                tps, counts = pgbench_w5(seconds, cpus, rows, ext_rels)
                samples[variant].append(tps)
                for k, n in counts.items():
                    waits[variant][k] = waits[variant].get(k, 0) + n
    finally:
        server_affinity({cpu})
    ratios, med = median_ratios(samples)
    results["W5"] = (ratios, med)
    report("W5 2 clients", ratios, med, "tps", samples)
    results["W5 waits"] = waits
    for variant in variants:
        w = waits[variant]
        print("  W5 %s wait events in %d samples of 50 ms (%d runs): %s"
              % (variant, w.get("samples", 0), reps,
                 ", ".join("%s %d" % (k, n) for k, n in sorted(w.items())
                           if k != "samples") or "none"))
    ours = sum(n for k, n in waits["undoredo"].items()
               if k.startswith("lock ours"))
    results["W5 our lock waits"] = ours
    print("  W5 tracked: %d sampled lock waits on the extension's objects"
          % ours)


VALUE_LOAD = """INSERT INTO big
    SELECT 1, string_agg(block, ''::bytea)
    FROM (SELECT decode(string_agg(md5(i::text), ''), 'hex') AS block
          FROM generate_series(1, 65536) AS i) AS b,
         generate_series(1, %s)"""


def peak_of(sql, args=None, setup=()):
    """Run sql on a fresh connection; (seconds, RssAnon growth in bytes)."""
    conn = connect()
    cur = conn.cursor()
    for s in setup:
        cur.execute(s)
    cur.execute("SELECT pg_backend_pid()")
    pid = cur.fetchone()[0]
    with PeakSampler(pid, interval=0.005, fields=("RssAnon",)) as mem:
        seconds = timed(cur, sql, args)
    conn.close()
    return seconds, (mem.peak["RssAnon"] - mem.start["RssAnon"]) * 1024


def measure_large_value(cur, mib, results):
    """
    Peak memory of an update of one row holding a mib MiB bytea, untracked
    and tracked, and of the undo and redo of the tracked step.  The value
    is 1 MiB of md5 bytes repeated: pglz gives up on it within its first
    kilobyte, so it is stored uncompressed, out of line.
    """
    size = mib * 1024 * 1024
    cur.execute("RESET undoredo.scope")
    cur.execute("DROP TABLE IF EXISTS big")
    cur.execute("CREATE TABLE big (id int PRIMARY KEY, v bytea)")
    cur.execute("TRUNCATE " + ", ".join(history_tables(cur)))
    cur.execute(VALUE_LOAD, (mib,))
    cur.execute("CHECKPOINT")
    update = "UPDATE big SET v = v || '\\x00'::bytea"
    found = {}

    def digest():
        cur.execute("SELECT md5(v), length(v) FROM big")
        return cur.fetchone()

    before = digest()
    found["untracked update"] = peak_of(update)
    cur.execute("SELECT undoredo_track('big')")
    cur.execute("CHECKPOINT")
    start = digest()
    found["capture"] = peak_of(update, setup=["SET undoredo.scope = 'big:1'"])
    after = digest()
    check(after[1] == start[1] + 1 and start[1] == before[1] + 1,
          "the updates of the large value")
    found["undo"] = peak_of("SELECT * FROM undoredo_undo('big', 1)")
    check(digest() == start, "undo of the large value restores it")
    found["redo"] = peak_of("SELECT * FROM undoredo_redo('big', 1)")
    check(digest() == after, "redo of the large value restores the update")
    cur.execute("DROP TABLE big")
    results["large"] = (size, found)
    for name, (seconds, peak) in found.items():
        print("%d MiB bytea, %-16s: peak RssAnon +%.0f MB = %.2fx the value "
              "(%.2f s)" % (mib, name, peak / 1e6, peak / size, seconds),
              flush=True)


def report(name, ratios, med, unit, samples=None):
    print("%-16s" % name + "".join(
        "  %s %.2fx (%.4g %s)" % (v, ratios[v], med[v], unit) for v in ratios),
        flush=True)
    if samples:
        # the spread of the repetitions, to judge the noise of the run
        print("%-16s  runs from lowest to highest:" % "" + ",".join(
            " %s %.4g–%.4g" % (v, min(s), max(s)) for v, s in samples.items()),
            flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer rows, shorter runs: a smoke test")
    parser.add_argument("--only", default=None,
                        help="comma-separated measures to run (statements, "
                        "pgbench, w5, replay, small_undo, big_undo, "
                        "large_value); the summary table needs all")
    parser.add_argument("--reps", type=int, default=5,
                        help="repetitions of each statement measurement "
                        "(pgbench runs are repeated 3 times)")
    args = parser.parse_args()
    reps = args.reps
    rows, seconds, history_rows, big = 100000, 10, 1000000, 1000000
    value_mib = 100
    if args.quick:
        rows, seconds, history_rows, big = 20000, 2, 100000, 100000
        value_mib = 10
    cpu = int(os.environ.get("BENCH_CPU", "1"))

    cur = connect().cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS undoredo")
    cur.execute("""CREATE OR REPLACE FUNCTION doc_log() RETURNS trigger
                   LANGUAGE plpgsql AS $$
                   BEGIN
                       INSERT INTO doc_log VALUES (TG_OP,
                           CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
                           CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
                           txid_current());
                       RETURN NULL;
                   END $$""")
    results = {}
    measures = {
        "statements": lambda: measure_statements(cur, reps, rows, results),
        "pgbench": lambda: measure_pgbench(cur, 3, rows, seconds, cpu, results),
        "w5": lambda: measure_w5(cur, 3, rows, seconds, cpu, results),
        "replay": lambda: measure_replay(cur, reps, rows, results),
        "small_undo": lambda: measure_small_undo(cur, history_rows, 200, results),
        "big_undo": lambda: measure_big_undo(cur, big, results),
        "large_value": lambda: measure_large_value(cur, value_mib, results),
    }
    only = args.only.split(",") if args.only else list(measures)
    for name in only:
        if name not in measures:
            parser.error("unknown measure %s" % name)
        measures[name]()
    if not args.only:
        print_table(results, rows, reps, history_rows, big)


def count(n):
    """1000000 -> '1M', 100000 -> '100k'."""
    return "%dM" % (n // 1000000) if n % 1000000 == 0 else "%dk" % (n // 1000)


def print_table(results, rows, reps, history_rows, big):
    print()
    print("| measure | target | undoredo | hand-written PL/pgSQL |")
    print("|---|---|---|---|")
    # the targets of issue 11
    targets = {"W1": "≤ 1.25x", "W2": "≤ 1.15x", "W3": "≤ 2.5x",
               "W4 sync on": "≥ 0.92", "W4 sync off": "≥ 0.92"}
    for name, target in targets.items():
        ratios, med = results[name]
        unit = "TPS" if name.startswith("W4") else "time"
        print("| %s %s | %s | %.2fx | %.2fx |" % (name, unit, target,
              ratios["undoredo"], ratios["plpgsql"]))
    ratios, med = results["W5"]
    print("| W5 TPS, 2 clients, a scope per transaction | ≥ 0.90 | %.2fx | |"
          % ratios["undoredo"])
    print("| W5 sampled lock waits on the extension's objects | 0 | %d | |"
          % results["W5 our lock waits"])
    ratios, med = results["replay"]
    print("| undo of W2 | ≤ 1.1x the floor | %.2fx = %.2fx the floor "
          "| %.2fx (the floor: set-based, by hand) |"
          % (ratios["undo"], ratios["undo"] / ratios["by hand"],
             ratios["by hand"]))
    print("| redo of W2 | ≤ 1.1x the floor | %.2fx = %.2fx the floor | |"
          % (ratios["redo"], ratios["redo"] / ratios["by hand"]))
    print("| 1-row undo with %s rows of history | ≤ 1.2x | %.2fx | |"
          % (count(history_rows), results["small undo"]))
    print("| history bytes per W2 row | ≤ 200 | %.0f | |"
          % results["bytes per W2 row"])
    print("| undo of a %s-row step, peak backend memory | < 200 MB | %.0f MB | |"
          % (count(big), results["big undo MB"]))
    size, found = results["large"]
    for name in ("capture", "undo", "redo", "untracked update"):
        print("| %d MiB bytea: %s, peak RssAnon / value | %s | %.2fx (%.0f MB) | |"
              % (size >> 20, name, "≤ 3x" if name != "untracked update" else "",
                 found[name][1] / size, found[name][1] / 1e6))
    print("\n(%d rows per statement workload; medians of %d runs, pgbench: "
          "medians of 3 runs)" % (rows, reps))


if __name__ == "__main__":
    main()
