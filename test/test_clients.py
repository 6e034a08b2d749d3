"""Capture and replay from another client: Python with psycopg2.

Runs against the server named by the PG* environment variables (make test
starts a throwaway one).  Each test uses its own connections, so it also
proves that the scope is per session and that one client's writes are
captured while another client undoes them.
"""
import datetime
import decimal
import threading
import time
import unittest

import psycopg2
import psycopg2.errors


def connect():
    conn = psycopg2.connect("")
    conn.autocommit = True
    return conn


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with connect() as admin, admin.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS undoredo")
            cur.execute("DROP TABLE IF EXISTS py_item")
            cur.execute("""CREATE TABLE py_item (
                               id int PRIMARY KEY, name text, price numeric,
                               data bytea, at timestamptz, doc jsonb)""")
            cur.execute("SELECT undoredo_track('py_item')")
            cur.execute("SELECT undoredo_clear('basket', 1), undoredo_clear('basket', 2)")

    def rows(self, cur):
        cur.execute("SELECT * FROM py_item WHERE id = 1")
        return cur.fetchall()

    def test_python_values_round_trip(self):
        writer, other = connect(), connect()
        w, o = writer.cursor(), other.cursor()
        self.assertEqual(self.rows(o), [])
        at = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901,
                               tzinfo=datetime.timezone.utc)
        # a transaction of the writer under the scope is one step
        writer.autocommit = False
        w.execute("SET LOCAL undoredo.scope = 'basket:1'")
        w.execute("INSERT INTO py_item VALUES (%s, %s, %s, %s, %s, %s)",
                  (1, "café \\ 'quoted'", decimal.Decimal("1.50"),
                   psycopg2.Binary(b"\x00\xff\x01"), at, '{"a": [1, 2]}'))
        w.execute("UPDATE py_item SET price = %s WHERE id = 1",
                  (decimal.Decimal("2.500"),))
        writer.commit()
        after = self.rows(o)
        self.assertEqual(after[0][3].tobytes(), b"\x00\xff\x01")
        self.assertEqual(str(after[0][2]), "2.500")

        # another client undoes and redoes it
        o.execute("SELECT * FROM undoredo_undo('basket', 1)")
        self.assertEqual(o.fetchone(), (0, 1))
        self.assertEqual(self.rows(o), [])
        o.execute("SELECT * FROM undoredo_redo('basket', '1')")
        self.assertEqual(o.fetchone(), (1, 0))
        redone = self.rows(o)
        self.assertEqual(redone, after)
        self.assertEqual(redone[0][4], at)
        self.assertEqual(str(redone[0][2]), "2.500")

    def test_conflict_is_ur001(self):
        writer, other = connect(), connect()
        w, o = writer.cursor(), other.cursor()
        w.execute("SET undoredo.scope = 'basket:2'")
        w.execute("INSERT INTO py_item (id, name) VALUES (2, 'two')")
        o.execute("UPDATE py_item SET name = 'changed' WHERE id = 2")
        with self.assertRaises(psycopg2.Error) as caught:
            o.execute("SELECT * FROM undoredo_undo('basket', 2)")
        self.assertEqual(caught.exception.pgcode, "UR001")
        self.assertIn('"py_item"', caught.exception.pgerror)
        self.assertIn("(id)=(2)", caught.exception.pgerror)
        o.execute("SELECT * FROM undoredo_status('basket', 2)")
        self.assertEqual(o.fetchone(), (1, 0))
        o.execute("SELECT name FROM py_item WHERE id = 2")
        self.assertEqual(o.fetchone(), ("changed",))

    def test_replaying_setting(self):
        """A new session has no undoredo.replaying until the library loads
        (no setting on the database stands in for it since 1.1.2); once
        loaded, it is off outside undo and redo."""
        conn = connect()
        cur = conn.cursor()
        cur.execute("SELECT current_setting('undoredo.replaying', true)")
        self.assertEqual(cur.fetchone(), (None,))
        cur.execute("SELECT c FROM pg_db_role_setting s"
                    " JOIN pg_database d ON d.oid = s.setdatabase,"
                    " unnest(s.setconfig) c"
                    " WHERE d.datname = current_database()"
                    " AND c LIKE 'undoredo.%%'")
        self.assertEqual(cur.fetchall(), [])
        cur.execute("SELECT * FROM undoredo_status('nothing', 1)")
        cur.execute("SELECT current_setting('undoredo.replaying')")
        self.assertEqual(cur.fetchone(), ("off",))

    def test_diagnosis_agrees_with_the_statement(self):
        """An undo whose row another transaction deletes and inserts again,
        unchanged, while the undo waits for it: the replay statement finds
        no row of its own, the row looked at again is there and as the step
        left it.  That is no row-level security refusal (there is no RLS
        here): the undo runs the statement again and succeeds."""
        setup, writer = connect(), connect()
        s, w = setup.cursor(), writer.cursor()
        s.execute("DROP TABLE IF EXISTS py_race")
        s.execute("CREATE TABLE py_race (id int PRIMARY KEY, title text NOT NULL)")
        s.execute("SELECT undoredo_track('py_race'), undoredo_clear('race', 1)")
        s.execute("INSERT INTO py_race VALUES (1, 'a0')")
        setup.autocommit = False
        s.execute("SET LOCAL undoredo.scope = 'race:1'")
        s.execute("UPDATE py_race SET title = 'a1' WHERE id = 1")
        s.execute("INSERT INTO py_race VALUES (2, 'b1')")
        setup.commit()
        setup.autocommit = True

        writer.autocommit = False
        w.execute("DELETE FROM py_race")
        w.execute("INSERT INTO py_race VALUES (1, 'a1'), (2, 'b1')")
        outcome = {}

        def undo():
            conn = connect()
            try:
                cur = conn.cursor()
                cur.execute("SELECT * FROM undoredo_undo('race', 1)")
                outcome["result"] = cur.fetchone()
            except psycopg2.Error as e:
                outcome["error"] = (e.pgcode, e.pgerror)
            finally:
                conn.close()

        thread = threading.Thread(target=undo)
        thread.start()
        # wait until the undo waits for the writer's row lock
        for _ in range(200):
            s.execute("SELECT count(*) FROM pg_catalog.pg_stat_activity"
                      " WHERE wait_event_type = 'Lock'"
                      " AND query LIKE 'SELECT * FROM undoredo_undo(''race''%'")
            if s.fetchone()[0] == 1:
                break
            time.sleep(0.05)
        else:
            self.fail("the undo did not wait for the writer")
        writer.commit()
        thread.join(30)
        self.assertEqual(outcome, {"result": (0, 1)})
        s.execute("SELECT * FROM py_race ORDER BY id")
        self.assertEqual(s.fetchall(), [(1, "a0")])
        s.execute("DROP TABLE py_race")
        setup.close()
        writer.close()


if __name__ == "__main__":
    unittest.main()
