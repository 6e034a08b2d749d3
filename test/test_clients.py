"""Capture and replay from another client: Python with psycopg2.

Runs against the server named by the PG* environment variables (make test
starts a throwaway one).  Each test uses its own connections, so it also
proves that the scope is per session and that one client's writes are
captured while another client undoes them.
"""
import datetime
import decimal
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
        conn = connect()
        cur = conn.cursor()
        cur.execute("SELECT current_setting('undoredo.replaying')")
        self.assertEqual(cur.fetchone(), ("off",))


if __name__ == "__main__":
    unittest.main()
