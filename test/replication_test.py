"""A logical-replication subscriber of the history, promoted to take writes.

PostgreSQL 15's logical replication copies tables, not sequences.  A
subscriber that holds a replicated copy of the history (and of the tracked
tables) has the publisher's step and scope ids in its tables while its own
sequences never moved.  Promoted to take writes (the publisher is gone), it
must capture new steps and undo old and new ones, without id collisions and
without putting a new step of a scope before its older ones.

Two clusters of their own (test/pgcluster.py), Unix sockets only:
- the publisher (wal_level = logical) publishes the history tables and the
  tracked table; its step sequence starts high (a long history), its scope
  sequence low; its table had a column dropped, so the subscriber's numbers
  the columns otherwise;
- the subscriber subscribes, copies, and follows steps captured, undone and
  redone on the publisher until it holds the same history;
- the publisher stops, the subscription is disabled; on the subscriber,
  eight sessions capture at the same moment (new steps of replicated
  scopes, new scopes), then more captures, then undo and redo of new and
  replicated steps, checked against the expected rows; every step id and
  scope id is unique and each scope's steps keep their order.
"""
import sys
import threading
import time
import unittest

import psycopg2

from pgcluster import Cluster

PUBLISHED = ("undoredo_scope", "undo_action", "redo_action", "undoredo_change", "doc")
SESSIONS = 8


def setup_schema(cur, dropped_column=False):
    cur.execute("CREATE EXTENSION undoredo")
    if dropped_column:
        # title is the third column here and the second on the subscriber:
        # replicated steps are replayed there by column name
        cur.execute("CREATE TABLE doc (id int PRIMARY KEY, note text, title text NOT NULL)")
        cur.execute("ALTER TABLE doc DROP COLUMN note")
    else:
        cur.execute("CREATE TABLE doc (id int PRIMARY KEY, title text NOT NULL)")
    cur.execute("SELECT undoredo_track('doc')")


def capture(cur, scope, *statements):
    cur.execute("BEGIN")
    cur.execute("SELECT set_config('undoredo.scope', %s, true)", (scope,))
    for sql in statements:
        cur.execute(sql)
    cur.execute("COMMIT")


def history_snapshot(cur):
    cur.execute("""
        SELECT (SELECT string_agg(format('%s/%s/%s', scope_id, object_type, object_id),
                                  ',' ORDER BY scope_id) FROM undoredo_scope),
               (SELECT string_agg(format('%s/%s', step, scope_id), ',' ORDER BY step)
                FROM undo_action),
               (SELECT string_agg(format('%s/%s', step, scope_id), ',' ORDER BY step)
                FROM redo_action),
               (SELECT string_agg(format('%s/%s/%s', step, seq, md5(changes)), ','
                                  ORDER BY step, seq) FROM undoredo_change),
               (SELECT string_agg(format('%s/%s', id, title), ',' ORDER BY id) FROM doc)""")
    return cur.fetchone()


class PromotedSubscriberTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pub = Cluster("publisher", {"wal_level": "logical",
                                        "max_replication_slots": "4",
                                        "max_wal_senders": "4"})
        cls.addClassCleanup(cls.pub.destroy)
        cls.sub = Cluster("subscriber", {"max_connections": "30"})
        cls.addClassCleanup(cls.sub.destroy)
        cls.pub.create().start()
        cls.sub.create().start()

    def test_promoted_subscriber(self):
        pub = self.pub.connect()
        sub = self.sub.connect()
        pcur, scur = pub.cursor(), sub.cursor()
        setup_schema(pcur, dropped_column=True)
        setup_schema(scur)
        # a long history was recorded before: step ids far above 1
        pcur.execute("SELECT setval('undoredo_step_seq', 1000000)")
        pcur.execute("CREATE PUBLICATION history FOR TABLE %s" % ", ".join(PUBLISHED))

        capture(pcur, "doc:1", "INSERT INTO doc VALUES (1, 'one')")
        scur.execute("CREATE SUBSCRIPTION history CONNECTION %s PUBLICATION history",
                     (self.pub.dsn(),))
        capture(pcur, "doc:1", "UPDATE doc SET title = 'One' WHERE id = 1")
        capture(pcur, "doc:1", "INSERT INTO doc VALUES (2, 'two')")
        capture(pcur, "doc:2", "INSERT INTO doc VALUES (20, 'twenty')")
        capture(pcur, "doc:3", "INSERT INTO doc VALUES (30, 'thirty')",
                "UPDATE doc SET title = 'Thirty' WHERE id = 30")
        capture(pcur, "doc:3", "DELETE FROM doc WHERE id = 30")
        pcur.execute("SELECT * FROM undoredo_undo('doc', 3)")      # a step in redo_action
        capture(pcur, "doc:2", "UPDATE doc SET title = 'Twenty' WHERE id = 20")
        pcur.execute("SELECT * FROM undoredo_undo('doc', 2)")
        pcur.execute("SELECT * FROM undoredo_redo('doc', 2)")

        expected = history_snapshot(pcur)
        deadline = time.monotonic() + 120
        while history_snapshot(scur) != expected:
            if time.monotonic() > deadline:
                self.fail("the subscriber did not catch up:\n%s\n%s\n%s"
                          % (expected, history_snapshot(scur), self.sub.log_tail()))
            time.sleep(0.2)
        pcur.execute("SELECT max(step) FROM (SELECT step FROM undo_action"
                     " UNION ALL SELECT step FROM redo_action) s")
        replicated_max_step = pcur.fetchone()[0]
        self.assertGreater(replicated_max_step, 1000000)
        pcur.execute("SELECT step FROM undoredo_history('doc', 1) ORDER BY step")
        replicated_doc1 = [r[0] for r in pcur.fetchall()]
        pub.close()

        # failover: the publisher is gone, the subscriber takes writes
        self.pub.stop()
        scur.execute("ALTER SUBSCRIPTION history DISABLE")
        scur.execute("SELECT last_value FROM undoredo_step_seq")
        self.assertLess(scur.fetchone()[0], 1000)   # sequences were not replicated

        # eight sessions capture at the same moment: new steps of replicated
        # scopes and new scopes
        barrier = threading.Barrier(SESSIONS)
        errors = []

        def session(i):
            try:
                conn = self.sub.connect()
                cur = conn.cursor()
                scope = "doc:%d" % (1 + i % 3) if i < 4 else "doc:%d" % (100 + i)
                barrier.wait(timeout=60)
                capture(cur, scope, "INSERT INTO doc VALUES (%d, 'session %d')"
                        % (1000 + i, i))
                conn.close()
            except Exception as e:       # reported below
                errors.append("session %d: %s" % (i, e))

        threads = [threading.Thread(target=session, args=(i,)) for i in range(SESSIONS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])

        capture(scur, "doc:1", "UPDATE doc SET title = 'ONE' WHERE id = 1")
        capture(scur, "doc:9", "INSERT INTO doc VALUES (90, 'ninety')")

        # ids: unique, new ones above the replicated ones, scopes distinct
        scur.execute("SELECT count(*), count(DISTINCT step) FROM"
                     " (SELECT step FROM undo_action UNION ALL"
                     "  SELECT step FROM redo_action) s")
        steps, distinct_steps = scur.fetchone()
        self.assertEqual(steps, distinct_steps)
        # seven replicated steps, one of them (doc:3's redo) discarded by a
        # session's new step there
        self.assertEqual(steps, 7 - 1 + SESSIONS + 2)
        scur.execute("SELECT count(*), count(DISTINCT scope_id),"
                     " count(DISTINCT (object_type, object_id)) FROM undoredo_scope")
        scopes, distinct_ids, distinct_names = scur.fetchone()
        self.assertEqual((scopes, distinct_ids, distinct_names), (3 + 4 + 1,) * 3)

        # doc:1: three replicated steps, the sessions' steps, the update
        scur.execute("SELECT step, state, changes FROM undoredo_history('doc', 1)"
                     " ORDER BY step")
        history = scur.fetchall()
        self.assertEqual([h[0] for h in history[:3]], replicated_doc1)
        self.assertTrue(all(h[0] > replicated_max_step for h in history[3:]))
        self.assertEqual(len(history), 3 + 2 + 1)   # sessions 0 and 3 wrote doc:1

        # undo everything of doc:1, newest first: new steps, then replicated ones
        scur.execute("SELECT * FROM undoredo_undo('doc', 1)")
        self.assertEqual(scur.fetchone(), (5, 1))
        scur.execute("SELECT title FROM doc WHERE id = 1")
        self.assertEqual(scur.fetchone()[0], "One")
        scur.execute("SELECT * FROM undoredo_undo('doc', 1, 10)")
        self.assertEqual(scur.fetchone(), (0, 6))
        scur.execute("SELECT id FROM doc WHERE id IN (1, 2, 1000, 1003) ORDER BY id")
        self.assertEqual(scur.fetchall(), [])
        scur.execute("SELECT * FROM undoredo_redo('doc', 1, 10)")
        self.assertEqual(scur.fetchone(), (6, 0))
        scur.execute("SELECT id, title FROM doc WHERE id IN (1, 2, 1000, 1003) ORDER BY id")
        self.assertEqual(scur.fetchall(), [(1, "ONE"), (2, "two"), (1000, "session 0"),
                                           (1003, "session 3")])

        # doc:3: the replicated undoable step and session 2's step
        scur.execute("SELECT * FROM undoredo_status('doc', 3)")
        self.assertEqual(scur.fetchone(), (2, 0))
        scur.execute("SELECT * FROM undoredo_undo('doc', 3, 3)")
        self.assertEqual(scur.fetchone(), (0, 2))
        scur.execute("SELECT count(*) FROM doc WHERE id IN (30, 1002)")
        self.assertEqual(scur.fetchone()[0], 0)
        # doc:2 and a new scope
        scur.execute("SELECT * FROM undoredo_undo('doc', 2, 10)")
        self.assertEqual(scur.fetchone(), (0, 3))
        scur.execute("SELECT count(*) FROM doc WHERE id IN (20, 1001)")
        self.assertEqual(scur.fetchone()[0], 0)
        scur.execute("SELECT * FROM undoredo_undo('doc', 9)")
        self.assertEqual(scur.fetchone(), (0, 1))
        scur.execute("SELECT * FROM undoredo_undo('doc', 104)")
        self.assertEqual(scur.fetchone(), (0, 1))
        scur.execute("SELECT count(*) FROM doc WHERE id IN (90, 1004)")
        self.assertEqual(scur.fetchone()[0], 0)
        sub.close()


if __name__ == "__main__":
    unittest.main()
