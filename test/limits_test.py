"""Limits: a very large step, a very large value, a step over many tables.

Runs against the server named by the PG* environment variables (make test
starts a throwaway one), on the server's machine as root or as the server's
OS user, because it reads /proc/<pid>/status of its backend (test/pgmem.py).

- A 1,000,000-row step is captured, undone and redone.  While each phase
  runs, the backend's private memory (RssAnon) is sampled every 20 ms; its
  peak must stay below 200 MB.  The rows alone are about 65 MB of heap, so
  a backend holding the step (its row images, an SPI result of it, a list
  of its changes) in memory would show it; one that streams stays near its
  baseline.  The table content is compared (md5 of an ordered text dump,
  computed on the server) with the state after the step.
- A 100 MB incompressible bytea value goes through capture, undo and redo,
  both as an update's new value and as a deleted row's value; its md5 and
  length are compared on the server (the value never travels to Python).
- One step touching 50 tables linked by foreign keys (ON DELETE CASCADE and
  NO ACTION, a cascaded delete included) is undone and redone exactly.
- undoredo_changes lists a step of 100,000 inserts, and as a role under
  row-level security a step of 100,000 updates (each row's policy check
  reads the row as it is now): the backend's RssAnon grows by less than
  CHANGES_GROWTH_MB while it does (the rows go to a tuplestore that spills
  to disk past work_mem; each chunk is decoded in memory reset after it).

The timings and memory peaks of each phase go to stderr after the last test.
"""
import sys
import time
import unittest

import psycopg2
import psycopg2.errors

from pgmem import PeakSampler, read_status

RSS_ANON_BOUND_MB = 200
CANCEL_ABOVE_MB = 1000   # a phase of the 1,000,000-row step using this much
                         # is cancelled rather than left to eat the machine
MILLION = 1000000
BLOB_BYTES = 100 * 1024 * 1024    # 3,276,800 sha256 digests of 32 bytes
TABLES = 50
MANY_STEPS = 12000
MANY_STEPS_GROWTH_MB = 40   # 25 kB a step would be about 290 MB
LISTED = 100000
CHANGES_GROWTH_MB = 64      # the listed rows' JSON alone is about 10 MB
READER = "undoredo_limits_reader"


def connect():
    conn = psycopg2.connect("")
    conn.autocommit = True
    return conn


REPORT = []   # figures, printed after the last test so they do not split
              # unittest's "<case> ... ok" lines


def report(line):
    REPORT.append(line)


def table_md5(cur, table):
    """md5 of the table's rows as text, ordered by id, computed on the server."""
    cur.execute('SELECT pg_catalog.md5(pg_catalog.string_agg(t::text, E\'\\n\' ORDER BY t.id))'
                ' FROM %s AS t' % table)
    return cur.fetchone()[0]


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS undoredo")
            cur.execute("DROP SCHEMA IF EXISTS limits CASCADE")
            cur.execute("CREATE SCHEMA limits")
            for scope_id in (1, 2, 3, 4, 5):
                cur.execute("SELECT undoredo_clear('limits', %s)", (scope_id,))
            cur.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (READER,))
            if cur.fetchone():
                cur.execute("DROP OWNED BY %s" % READER)
                cur.execute("DROP ROLE %s" % READER)

    @classmethod
    def tearDownClass(cls):
        print("\n".join(REPORT), file=sys.stderr, flush=True)

    def setUp(self):
        self.conn = connect()
        self.cur = self.conn.cursor()
        self.cur.execute("SELECT pg_catalog.pg_backend_pid()")
        self.pid = self.cur.fetchone()[0]

    def tearDown(self):
        self.conn.close()

    def cancel(self):
        side = connect()
        try:
            side.cursor().execute("SELECT pg_catalog.pg_cancel_backend(%s)", (self.pid,))
        finally:
            side.close()

    def phase(self, name, sql, args=None, cancel_above_mb=None):
        """Run sql on the sampled backend; report and return its RssAnon peak.
        Past cancel_above_mb of RssAnon the statement is cancelled and the
        test fails."""
        limit = cancel_above_mb and ("RssAnon", cancel_above_mb * 1024, self.cancel)
        started = time.monotonic()
        try:
            with PeakSampler(self.pid, limit=limit) as mem:
                self.cur.execute(sql, args)
        except psycopg2.errors.QueryCanceled:
            if not mem.exceeded:
                raise
            raise self.failureException(
                "%s: backend RssAnon passed %d MB after %.1f s; cancelled"
                % (name, cancel_above_mb, time.monotonic() - started)) from None
        report("%-40s %5.1f s  %s" % ("%s: %s" % (self._testMethodName[5:], name),
                                      time.monotonic() - started, mem.summary()))
        return mem.peak_mb("RssAnon")

    def test_million_row_step_streams(self):
        cur = self.cur
        cur.execute("CREATE TABLE limits.big (id bigint PRIMARY KEY, n int NOT NULL,"
                    " t text NOT NULL)")
        cur.execute("SELECT undoredo_track('limits.big')")
        cur.execute("SET undoredo.scope = 'limits:1'")
        peaks = {}
        peaks["capture"] = self.phase(
            "capture", "INSERT INTO limits.big SELECT g, g %% 1000,"
            " 'row ' || pg_catalog.lpad(g::text, 16, '0')"
            " FROM pg_catalog.generate_series(1, %s) AS g", (MILLION,), CANCEL_ABOVE_MB)
        cur.execute("RESET undoredo.scope")
        cur.execute("SELECT state, changes FROM undoredo_history('limits', 1)")
        self.assertEqual(cur.fetchall(), [("undo", MILLION)])
        cur.execute("SELECT pg_catalog.count(*), pg_catalog.sum(pg_catalog.length(t))"
                    " FROM limits.big")
        self.assertEqual(cur.fetchone(), (MILLION, 20 * MILLION))
        after = table_md5(cur, "limits.big")
        cur.execute("SELECT pg_catalog.pg_relation_size('limits.big')")
        report("million_row_step_streams: heap of the table %.1f MB"
               % (cur.fetchone()[0] / 1048576.0))

        peaks["undo"] = self.phase("undo", "SELECT * FROM undoredo_undo('limits', 1)",
                                   cancel_above_mb=CANCEL_ABOVE_MB)
        self.assertEqual(cur.fetchone(), (0, 1))
        cur.execute("SELECT pg_catalog.count(*) FROM limits.big")
        self.assertEqual(cur.fetchone()[0], 0)

        peaks["redo"] = self.phase("redo", "SELECT * FROM undoredo_redo('limits', 1)",
                                   cancel_above_mb=CANCEL_ABOVE_MB)
        self.assertEqual(cur.fetchone(), (1, 0))
        self.assertEqual(table_md5(cur, "limits.big"), after)

        for name, peak in peaks.items():
            self.assertLess(peak, RSS_ANON_BOUND_MB,
                            "%s of 1,000,000 rows: backend RssAnon peaked at %.1f MB"
                            % (name, peak))
        cur.execute("SELECT undoredo_clear('limits', 1)")
        cur.execute("DROP TABLE limits.big")

    def test_100mb_bytea_round_trips(self):
        cur = self.cur
        # the value is made once, in an untracked table
        cur.execute("CREATE TABLE limits.source (id int PRIMARY KEY, data bytea NOT NULL)")
        cur.execute("INSERT INTO limits.source SELECT 1, pg_catalog.string_agg("
                    "pg_catalog.sha256(pg_catalog.int8send(g)), ''::bytea ORDER BY g)"
                    " FROM pg_catalog.generate_series(1, %s) AS g", (BLOB_BYTES // 32,))
        value = ("SELECT pg_catalog.md5(data), pg_catalog.length(data)"
                 " FROM %s WHERE id = 1")
        cur.execute(value % "limits.source")
        expected = cur.fetchone()
        self.assertEqual(expected[1], BLOB_BYTES)
        set_big = ("UPDATE %s SET data = (SELECT s.data FROM limits.source AS s"
                   " WHERE s.id = 1) WHERE id = 1")

        # for comparison: the same update of a table that is not tracked
        cur.execute("CREATE TABLE limits.plain (id int PRIMARY KEY, data bytea NOT NULL)")
        cur.execute("INSERT INTO limits.plain VALUES (1, '\\x00')")
        self.phase("untracked update", set_big % "limits.plain")
        cur.execute(value % "limits.plain")
        self.assertEqual(cur.fetchone(), expected)

        cur.execute("CREATE TABLE limits.blob (id int PRIMARY KEY, data bytea NOT NULL)")
        cur.execute("SELECT undoredo_track('limits.blob')")
        cur.execute("INSERT INTO limits.blob VALUES (1, '\\x00')")
        cur.execute(value % "limits.blob")
        small = cur.fetchone()
        self.assertEqual(small[1], 1)

        # step 1: an update to the big value (the after image holds it)
        cur.execute("SET undoredo.scope = 'limits:2'")
        self.phase("capture update", set_big % "limits.blob")
        cur.execute("RESET undoredo.scope")
        self.phase("undo update", "SELECT * FROM undoredo_undo('limits', 2)")
        cur.execute(value % "limits.blob")
        self.assertEqual(cur.fetchone(), small)
        self.phase("redo update", "SELECT * FROM undoredo_redo('limits', 2)")
        cur.execute(value % "limits.blob")
        self.assertEqual(cur.fetchone(), expected)

        # step 2: a delete of the row (the before image holds the big value)
        cur.execute("SET undoredo.scope = 'limits:2'")
        self.phase("capture delete", "DELETE FROM limits.blob WHERE id = 1")
        cur.execute("RESET undoredo.scope")
        self.phase("undo delete", "SELECT * FROM undoredo_undo('limits', 2)")
        self.assertEqual(cur.fetchone(), (1, 1))
        cur.execute(value % "limits.blob")
        self.assertEqual(cur.fetchone(), expected)
        self.phase("redo delete", "SELECT * FROM undoredo_redo('limits', 2)")
        cur.execute("SELECT pg_catalog.count(*) FROM limits.blob")
        self.assertEqual(cur.fetchone()[0], 0)
        cur.execute("SELECT * FROM undoredo_undo('limits', 2, 2)")
        self.assertEqual(cur.fetchone(), (0, 2))
        cur.execute(value % "limits.blob")
        self.assertEqual(cur.fetchone(), small)
        cur.execute("SELECT undoredo_clear('limits', 2)")
        cur.execute("DROP TABLE limits.blob, limits.plain, limits.source")

    def test_step_over_50_tables(self):
        # Table 2k references 2k-1 (ON DELETE CASCADE for odd k, NO ACTION
        # for even k); every odd table after the first references table 1.
        cur = self.cur
        names = ["limits.t%02d" % i for i in range(1, TABLES + 1)]

        def parents(i):
            if i % 2 == 0:
                k = i // 2
                return [(i - 1, "CASCADE" if k % 2 else "NO ACTION")]
            return [(1, "NO ACTION")] if i > 1 else []

        for i, name in enumerate(names, 1):
            refs = "".join(
                ", p%d int NOT NULL REFERENCES %s ON DELETE %s" % (p, names[p - 1], action)
                for p, action in parents(i))
            cur.execute("CREATE TABLE %s (id int PRIMARY KEY, val text NOT NULL%s)"
                        % (name, refs))
            cur.execute("SELECT undoredo_track(%s)", (name,))
            cols = "".join(", g" for _ in parents(i))
            cur.execute("INSERT INTO %s SELECT g, 'v' || g%s"
                        " FROM pg_catalog.generate_series(1, 10) AS g" % (name, cols))

        def snapshot():
            return [table_md5(cur, name) for name in names]

        before = snapshot()
        self.conn.autocommit = False
        cur.execute("SET LOCAL undoredo.scope = 'limits:3'")
        for i, name in enumerate(names, 1):   # parents first
            cols = "".join(", g" for _ in parents(i))
            cur.execute("INSERT INTO %s SELECT g, 'new' || g%s"
                        " FROM pg_catalog.generate_series(11, 12) AS g" % (name, cols))
            cur.execute("UPDATE %s SET val = val || '!' WHERE id <= 3" % name)
        for k in range(TABLES // 2, 0, -1):   # children first, table 1 last
            if k % 2:   # the child's row goes by cascade
                cur.execute("DELETE FROM %s WHERE id = 5" % names[2 * k - 2])
            else:
                cur.execute("DELETE FROM %s WHERE id = 5" % names[2 * k - 1])
                cur.execute("DELETE FROM %s WHERE id = 5" % names[2 * k - 2])
        self.conn.commit()
        self.conn.autocommit = True
        after = snapshot()
        self.assertNotEqual(after, before)
        cur.execute("SELECT state, changes FROM undoredo_history('limits', 3)")
        self.assertEqual(cur.fetchall(), [("undo", TABLES * (2 + 3 + 1))])

        started = time.monotonic()
        cur.execute("SELECT * FROM undoredo_undo('limits', 3)")
        self.assertEqual(cur.fetchone(), (0, 1))
        self.assertEqual(snapshot(), before)
        cur.execute("SELECT * FROM undoredo_redo('limits', 3)")
        self.assertEqual(cur.fetchone(), (1, 0))
        self.assertEqual(snapshot(), after)
        report("undo and redo of %d tables: %.1f s" % (TABLES, time.monotonic() - started))
        cur.execute("SELECT undoredo_clear('limits', 3)")
        cur.execute("DROP TABLE %s" % ", ".join(names))

    def test_many_steps_memory_flat(self):
        """Undo and redo of many steps in one call: backend memory does not
        grow with the number of steps (it grew by about 25 kB a step)."""
        cur = self.cur
        cur.execute("CREATE TABLE limits.counter (id int PRIMARY KEY, n int NOT NULL)")
        cur.execute("SELECT undoredo_track('limits.counter')")
        # a row per step: updating one row again and again in a transaction
        # makes every update walk that row's chain of versions
        cur.execute("INSERT INTO limits.counter"
                    " SELECT g, 0 FROM pg_catalog.generate_series(1, %d) AS g" % MANY_STEPS)
        # one step per transaction: MANY_STEPS of them (no wait for the WAL
        # flush of each: this is not about durability)
        cur.execute("SET synchronous_commit = off")
        cur.execute("SELECT pg_catalog.set_config('undoredo.scope', 'limits:4', false)")
        cur.execute("DO $$ BEGIN FOR i IN 1..%d LOOP"
                    " UPDATE limits.counter SET n = i WHERE id = i; COMMIT; END LOOP; END $$"
                    % MANY_STEPS)
        cur.execute("RESET undoredo.scope")
        cur.execute("SELECT * FROM undoredo_status('limits', 4)")
        self.assertEqual(cur.fetchone(), (MANY_STEPS, 0))
        # warm the backend's caches with one step each way first
        cur.execute("SELECT * FROM undoredo_undo('limits', 4)")
        cur.execute("SELECT * FROM undoredo_redo('limits', 4)")
        start = read_status(self.pid)["RssAnon"] / 1024.0
        undo = self.phase("undo of %d steps" % MANY_STEPS,
                          "SELECT * FROM undoredo_undo('limits', 4, %d)" % MANY_STEPS)
        self.assertEqual(cur.fetchone(), (0, MANY_STEPS))
        cur.execute("SELECT pg_catalog.sum(n) FROM limits.counter")
        self.assertEqual(cur.fetchone(), (0,))
        redo = self.phase("redo of %d steps" % MANY_STEPS,
                          "SELECT * FROM undoredo_redo('limits', 4, %d)" % MANY_STEPS)
        self.assertEqual(cur.fetchone(), (MANY_STEPS, 0))
        cur.execute("SELECT pg_catalog.sum(n) FROM limits.counter")
        self.assertEqual(cur.fetchone(), (MANY_STEPS * (MANY_STEPS + 1) // 2,))
        for name, peak in (("undo", undo), ("redo", redo)):
            self.assertLess(peak - start, MANY_STEPS_GROWTH_MB,
                            "%s of %d steps: backend RssAnon grew from %.1f to %.1f MB"
                            % (name, MANY_STEPS, start, peak))
        cur.execute("SELECT undoredo_clear('limits', 4)")
        cur.execute("DROP TABLE limits.counter")


    def test_changes_listing_streams(self):
        """undoredo_changes of a 100,000-change step: backend memory stays
        flat, also under row-level security."""
        cur = self.cur
        cur.execute("CREATE TABLE limits.listed (id bigint PRIMARY KEY,"
                    " tenant name NOT NULL, body text NOT NULL)")
        cur.execute("SELECT undoredo_track('limits.listed')")
        cur.execute("CREATE ROLE %s" % READER)
        cur.execute("GRANT USAGE ON SCHEMA limits TO %s" % READER)
        cur.execute("GRANT SELECT ON limits.listed TO %s" % READER)
        cur.execute("ALTER TABLE limits.listed ENABLE ROW LEVEL SECURITY")
        cur.execute("CREATE POLICY own ON limits.listed USING (tenant = current_user)")
        cur.execute("SET undoredo.scope = 'limits:5'")
        cur.execute("INSERT INTO limits.listed SELECT g, CASE WHEN g %% 2 = 0"
                    " THEN %s ELSE 'other' END, 'row ' || g"
                    " FROM pg_catalog.generate_series(1, %s) AS g", (READER, LISTED))
        cur.execute("UPDATE limits.listed SET body = body || '!'")
        cur.execute("RESET undoredo.scope")
        cur.execute("SELECT step, changes FROM undoredo_history('limits', 5) ORDER BY step")
        (inserted, n1), (updated, n2) = cur.fetchall()
        self.assertEqual((n1, n2), (LISTED, LISTED))
        listing = ("SELECT pg_catalog.count(*), pg_catalog.count(key),"
                   " pg_catalog.max(seq) FROM undoredo_changes('limits', 5, %s)")
        # warm the backend's caches with a listing of a few rows first
        cur.execute(listing + " WHERE seq <= 3", (inserted,))
        start = read_status(self.pid)["RssAnon"] / 1024.0
        peak = self.phase("list %d inserts" % LISTED, listing, (inserted,))
        self.assertEqual(cur.fetchone(), (LISTED, LISTED, LISTED))
        cur.execute("SET ROLE %s" % READER)
        cur.execute(listing + " WHERE seq <= 3", (updated,))
        rls_start = read_status(self.pid)["RssAnon"] / 1024.0
        rls_peak = self.phase("list %d updates under RLS" % LISTED, listing, (updated,))
        self.assertEqual(cur.fetchone(), (LISTED, LISTED // 2, LISTED))
        cur.execute("RESET ROLE")
        report("changes_listing_streams: RssAnon %.1f -> %.1f MB (all), "
               "%.1f -> %.1f MB (under RLS)" % (start, peak, rls_start, rls_peak))
        self.assertLess(peak - start, CHANGES_GROWTH_MB)
        self.assertLess(rls_peak - rls_start, CHANGES_GROWTH_MB)
        cur.execute("SELECT undoredo_clear('limits', 5)")
        cur.execute("DROP TABLE limits.listed")
        cur.execute("DROP OWNED BY %s" % READER)
        cur.execute("DROP ROLE %s" % READER)

if __name__ == "__main__":
    unittest.main()
