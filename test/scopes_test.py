"""Many scopes in one transaction.

A transaction that writes under many scopes holds one scope lock per scope
and one step per scope.  The work per scope must not grow with the number of
scopes the transaction has touched (it grew linearly, so the transaction
took quadratic time: 73 ms for 2,000 scopes, 1.3 s for 12,000), and where
the server's lock table is too small the error must say so clearly.

Runs on clusters of its own (test/pgcluster.py), since max_locks_per_transaction
needs a restart:
- with max_locks_per_transaction = 1024: 20,000 scopes written in one
  transaction, by a loop of plain statements and by a loop whose iterations
  are subtransactions (a PL/pgSQL exception block, every tenth rolled back);
  every scope has its one step (none for the rolled-back ones) and undoes.
  The time per scope at 2,000 and at 16,000 scopes is printed, with its ratio
  (not asserted: timings on a shared machine are no test);
- with max_locks_per_transaction = 10: the same transaction fails with
  SQLSTATE 53200, a message that names the scope the lock table had no room
  for and a hint on max_locks_per_transaction; the next transaction works.
"""
import sys
import time
import unittest

import psycopg2

from pgcluster import Cluster

SCOPES = 20000
REPORT = []

PLAIN = """
DO $$
BEGIN
  FOR i IN %(first)d..%(last)d LOOP
    PERFORM pg_catalog.set_config('undoredo.scope', '%(kind)s:' || i, true);
    INSERT INTO t VALUES (i, 0);
  END LOOP;
END $$"""

SAVEPOINTS = """
DO $$
BEGIN
  FOR i IN %(first)d..%(last)d LOOP
    BEGIN
      PERFORM pg_catalog.set_config('undoredo.scope', '%(kind)s:' || i, true);
      INSERT INTO t VALUES (i, 0);
      UPDATE t SET n = 1 WHERE id = i;
      IF i %% 10 = 0 THEN
        RAISE EXCEPTION 'roll back %%', i;
      END IF;
    EXCEPTION WHEN raise_exception THEN
      NULL;
    END;
  END LOOP;
END $$"""


def setup_database(conn):
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION undoredo")
    cur.execute("CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL)")
    cur.execute("SELECT undoredo_track('t')")


def write_scopes(conn, template, kind, first, count):
    """One transaction writing under count scopes; returns its duration."""
    conn.autocommit = False
    cur = conn.cursor()
    start = time.monotonic()
    try:
        cur.execute(template % {"first": first, "last": first + count - 1, "kind": kind})
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.autocommit = True
    return time.monotonic() - start


class ManyScopesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster("scopes", {"max_locks_per_transaction": "1024",
                                         "max_connections": "20"})
        cls.addClassCleanup(cls.cluster.destroy)
        cls.cluster.create().start()
        cls.conn = cls.cluster.connect()
        cls.addClassCleanup(cls.conn.close)
        setup_database(cls.conn)

    @classmethod
    def tearDownClass(cls):
        print("\n".join(REPORT), file=sys.stderr, flush=True)

    def scalar(self, sql, args=None):
        cur = self.conn.cursor()
        cur.execute(sql, args)
        return cur.fetchone()[0]

    def steps_of(self, kind):
        return self.scalar("SELECT count(*) FROM undo_action a JOIN undoredo_scope s"
                           " USING (scope_id) WHERE s.object_type = %s", (kind,))

    def test_plain_statements(self):
        write_scopes(self.conn, PLAIN, "plain", 1, SCOPES)
        self.assertEqual(self.steps_of("plain"), SCOPES)
        self.assertEqual(self.scalar("SELECT count(*) FROM t WHERE id <= %s", (SCOPES,)),
                         SCOPES)
        self.assertEqual(self.scalar("SELECT undo_count FROM undoredo_undo('plain', 12345)"), 0)
        self.assertEqual(self.scalar("SELECT count(*) FROM t WHERE id = 12345"), 0)
        self.assertEqual(self.scalar("SELECT redo_count FROM undoredo_status('plain', 12346)"), 0)

    def test_savepoints(self):
        base = 100000
        write_scopes(self.conn, SAVEPOINTS, "savepoint", base + 1, SCOPES)
        kept = SCOPES - SCOPES // 10
        self.assertEqual(self.steps_of("savepoint"), kept)
        self.assertEqual(self.scalar("SELECT count(*) FROM t WHERE id > %s AND n = 1",
                                     (base,)), kept)
        # each step holds the insert and the update
        self.assertEqual(self.scalar("SELECT changes FROM undoredo_history('savepoint', %s)",
                                     (base + 12345,)), 2)
        self.assertEqual(self.scalar("SELECT count(*) FROM undoredo_history('savepoint', %s)",
                                     (base + 12340,)), 0)
        self.assertEqual(self.scalar("SELECT undo_count FROM undoredo_undo('savepoint', %s)",
                                     (base + 12345,)), 0)
        self.assertEqual(self.scalar("SELECT count(*) FROM t WHERE id = %s", (base + 12345,)), 0)

    def test_time_per_scope(self):
        for name, template in (("plain statements", PLAIN), ("savepoints", SAVEPOINTS)):
            per_scope = {}
            first = 1000000 if template is PLAIN else 2000000
            for count in (2000, 16000):
                seconds = write_scopes(self.conn, template, "timed", first, count)
                first += count
                per_scope[count] = seconds / count * 1e6
            REPORT.append("%s: %.1f us per scope at 2,000 scopes, %.1f us at 16,000"
                          " (ratio %.2f)" % (name, per_scope[2000], per_scope[16000],
                                             per_scope[16000] / per_scope[2000]))


class LockTableFullTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster("locks", {"max_locks_per_transaction": "10",
                                        "max_connections": "20"})
        cls.addClassCleanup(cls.cluster.destroy)
        cls.cluster.create().start()
        cls.conn = cls.cluster.connect()
        cls.addClassCleanup(cls.conn.close)
        setup_database(cls.conn)

    def test_clear_error(self):
        with self.assertRaises(psycopg2.Error) as raised:
            write_scopes(self.conn, PLAIN, "full", 1, SCOPES)
        e = raised.exception
        self.assertEqual(e.pgcode, "53200", e.pgerror)
        self.assertRegex(e.diag.message_primary, r'^could not lock scope "full:\d+"')
        self.assertIn("max_locks_per_transaction", e.diag.message_hint or "")
        REPORT.append("lock table full: %s (%s)" % (e.diag.message_primary,
                                                     e.diag.message_detail))
        # the locks went with the transaction
        write_scopes(self.conn, PLAIN, "after", 1, 100)
        cur = self.conn.cursor()
        cur.execute("SELECT count(*) FROM undoredo_scope WHERE object_type = 'after'")
        self.assertEqual(cur.fetchone()[0], 100)


if __name__ == "__main__":
    unittest.main()
