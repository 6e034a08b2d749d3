"""The editor of app.py through the Flask test client.

Each test class creates a database of its own (tables created as a
migration would, nothing tracked), creates the app (which tracks the
tables at start-up) and drops the database at the end.  Runs against the
server named by the PG* variables, as a role that may create databases.
"""
import support  # first: keeps a built undoredo.so off sys.path

import threading
import unittest
import uuid

from sqlalchemy import create_engine, text

from realapp import app as editor

FIGURE = "89504e470d0a1a0a00ff"


def fresh_database(name):
    """A new database with the extension and the app's tables, untracked."""
    with support.make_engine().connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name))
        conn.execute(text('CREATE DATABASE "%s"' % name))
    url = "postgresql+psycopg2:///%s" % name
    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION undoredo"))
        editor.db.metadata.create_all(conn)
    engine.dispose()
    return url


def drop_database(name):
    engine = support.make_engine()
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name))
    engine.dispose()


class EditorTest(unittest.TestCase):
    DB = "pyur_realapp"

    @classmethod
    def setUpClass(cls):
        cls.url = fresh_database(cls.DB)
        cls.app = editor.create_app(cls.url)
        cls.app.testing = True      # exceptions reach the test
        cls.engine = create_engine(cls.url, future=True)

    @classmethod
    def tearDownClass(cls):
        cls.engine.dispose()
        with cls.app.app_context():
            editor.db.engine.dispose()
        drop_database(cls.DB)

    def setUp(self):
        self.client = self.app.test_client()

    def ok(self, response, status=200):
        self.assertEqual(response.status_code, status, response.get_data(as_text=True))
        return response.get_json()

    def new_doc(self, **fields):
        data = dict(title="Report", status="review", meta={"a": [1, 2.5, None], "é": "ü"},
                    price="12.50")
        data.update(fields)
        return self.ok(self.client.post("/docs", json=data), 201)

    def doc(self, doc_id):
        return self.ok(self.client.get("/docs/%s" % doc_id))

    def undo(self, doc_id, status=200, force=False):
        return self.ok(self.client.post("/docs/%s/undo%s" % (doc_id, "?force=1" if force else "")),
                       status)

    def redo(self, doc_id, status=200):
        return self.ok(self.client.post("/docs/%s/redo" % doc_id), status)

    def sql(self, query, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(query), params).scalar()

    def test_tracked_at_start_up(self):
        tracked = self.sql("SELECT array_agg(CAST(tgrelid AS regclass)::text ORDER BY 1)"
                           " FROM pg_trigger WHERE tgname = 'undoredo_capture'")
        self.assertEqual(sorted(tracked), sorted(t.name for t in editor.db.metadata.tables.values()))

    def test_document_values_exact(self):
        created = self.new_doc()
        doc_id = created["id"]
        edited = self.ok(self.client.patch("/docs/%s" % doc_id, json={
            "title": "Report v2", "status": "published", "meta": {}, "price": "3",
            "version": created["version"]}))
        self.assertEqual(edited["version"], created["version"] + 1)
        self.assertNotEqual(edited["updated_at"], created["updated_at"])
        self.assertEqual(self.undo(doc_id), {"undo": 1, "redo": 1})
        self.assertEqual(self.doc(doc_id), created)   # every value, timestamps and version too
        self.assertEqual(self.redo(doc_id), {"undo": 2, "redo": 0})
        self.assertEqual(self.doc(doc_id), edited)
        self.assertEqual(self.undo(doc_id), {"undo": 1, "redo": 1})
        self.assertEqual(self.undo(doc_id), {"undo": 0, "redo": 2})
        self.ok(self.client.get("/docs/%s" % doc_id), 404)
        self.assertEqual(self.redo(doc_id), {"undo": 1, "redo": 1})
        self.assertEqual(self.doc(doc_id), created)

    def test_optimistic_locking(self):
        created = self.new_doc()
        doc_id = created["id"]
        self.ok(self.client.patch("/docs/%s" % doc_id, json={"title": "B", "version": 1}))
        self.ok(self.client.patch("/docs/%s" % doc_id, json={"title": "C", "version": 1}), 409)
        self.undo(doc_id)
        # The version is back to 1 with the title: a client that read
        # version 1 may write again.
        self.assertEqual((self.doc(doc_id)["title"], self.doc(doc_id)["version"]), ("Report", 1))
        self.ok(self.client.patch("/docs/%s" % doc_id, json={"title": "C", "version": 1}))
        self.assertEqual(self.doc(doc_id)["version"], 2)

    def test_delete_orphan_with_its_cascades(self):
        # The case that lost rows silently: removing a paragraph from
        # doc.paragraphs deletes, inside the flush, its figure row, its
        # comments and its label links.  Undo brings every one back.
        # The comments and links come from an import, made without history
        # (no capture ever wrote their tables).
        doc_id = self.ok(self.client.post("/import", json={"title": "Imported", "paragraphs": [
            {"body": "Figure 1", "image": FIGURE, "caption": "A chart",
             "comments": ["first", "second"], "labels": [["todo", 2], ["chart", 1]]},
            {"body": "Text"}]}), 201)["id"]
        before = self.doc(doc_id)
        pid = before["paragraphs"][0]["id"]
        self.ok(self.client.delete("/docs/%s/paragraphs/%s" % (doc_id, pid)), 204)
        self.assertEqual(self.sql("SELECT count(*) FROM ra_comment WHERE paragraph_id = :p",
                                  p=uuid.UUID(pid)), 0)
        self.assertEqual(self.sql("SELECT count(*) FROM ra_label_link l JOIN ra_paragraph p"
                                  " ON p.id = l.paragraph_id WHERE p.document_id = :d",
                                  d=uuid.UUID(doc_id)), 0)
        self.assertEqual(self.undo(doc_id), {"undo": 0, "redo": 1})
        self.assertEqual(self.doc(doc_id), before)
        self.assertEqual(self.redo(doc_id), {"undo": 1, "redo": 0})
        self.assertEqual([p["body"] for p in self.doc(doc_id)["paragraphs"]], ["Text"])

    def test_many_to_many(self):
        doc_id = self.new_doc()["id"]
        self.ok(self.client.put("/docs/%s/tags" % doc_id, json=["b", "a"]))
        self.ok(self.client.put("/docs/%s/tags" % doc_id, json=["c"]))
        self.assertEqual(self.doc(doc_id)["tags"], ["c"])
        self.undo(doc_id)
        self.assertEqual(self.doc(doc_id)["tags"], ["a", "b"])
        self.undo(doc_id)
        self.assertEqual(self.doc(doc_id)["tags"], [])
        self.assertEqual(self.sql("SELECT count(*) FROM ra_tag WHERE name IN ('a', 'b')"), 0)

    def test_tree(self):
        doc_id = self.new_doc()["id"]
        root = self.ok(self.client.post("/docs/%s/sections" % doc_id, json={"title": "1"}), 201)
        child = self.ok(self.client.post("/docs/%s/sections" % doc_id,
                                         json={"title": "1.1", "parent": root["id"]}), 201)
        self.ok(self.client.post("/docs/%s/sections" % doc_id,
                                 json={"title": "1.1.1", "parent": child["id"]}), 201)
        before = self.doc(doc_id)["sections"]
        self.ok(self.client.delete("/docs/%s/sections/%s" % (doc_id, root["id"])), 204)
        self.assertEqual(self.doc(doc_id)["sections"], [])
        self.assertEqual(self.undo(doc_id), {"undo": 4, "redo": 1})
        self.assertEqual(self.doc(doc_id)["sections"], before)

    def test_conflict_then_force(self):
        doc_id = self.new_doc()["id"]
        pid = self.ok(self.client.post("/docs/%s/paragraphs" % doc_id,
                                       json={"body": "mine", "comments": ["c"]}), 201)["id"]
        with self.engine.begin() as conn:     # another client, no history
            conn.execute(text("UPDATE ra_paragraph SET body = 'theirs' WHERE id = :p"),
                         {"p": uuid.UUID(pid)})
        conflict = self.undo(doc_id, 409)
        self.assertEqual((conflict["step"], conflict["label"], conflict["table"]),
                         (2, "Add paragraph", "ra_paragraph"))
        self.assertTrue(conflict["conflict"].startswith(
            'cannot undo step 2 ("Add paragraph") of document %s: row (id)=(%s) of table '
            '"ra_paragraph"' % (doc_id, pid)), conflict["conflict"])
        self.assertEqual(self.doc(doc_id)["paragraphs"][0]["body"], "theirs")
        self.assertEqual(self.undo(doc_id, force=True), {"undo": 1, "redo": 1})
        self.assertEqual(self.doc(doc_id)["paragraphs"], [])

    def test_history(self):
        doc_id = self.new_doc()["id"]
        self.ok(self.client.put("/docs/%s/tags" % doc_id, json=["x"]))
        self.undo(doc_id)
        self.assertEqual(self.ok(self.client.get("/docs/%s/history" % doc_id)), [
            {"position": 1, "state": "undo", "label": "Create document", "changes": 1},
            {"position": 2, "state": "redo", "label": "Tag", "changes": 2}])


class FirstUseRaceTest(unittest.TestCase):
    """Two workers start at once on a fresh database (nothing tracked) and
    edit two documents at once.  With tables tracked inside each request,
    their table locks deadlocked; tracked at start-up, in one order, they
    only wait for each other."""
    DB = "pyur_realapp_race"
    EDITS = 8

    def setUp(self):
        self.url = fresh_database(self.DB)
        self.addCleanup(drop_database, self.DB)

    def test_two_workers(self):
        start, setup = threading.Barrier(2), threading.Lock()
        errors, docs, apps = [], [None, None], []

        def worker(n):
            try:
                # Werkzeug compiles URL rules with the ast module, which
                # CPython 3.11 does not do safely in two threads at once:
                # build the apps one at a time, track at the same time.
                with setup:
                    app = editor.create_app(self.url, track=False)
                    app.testing = True
                    apps.append(app)
                    client = app.test_client()
                    client.get("/docs/%s" % uuid.uuid4())
                start.wait(30)
                with app.app_context():       # start-up: track the tables
                    editor.undo_redo.track_tables(editor.db.metadata)
                response = client.post("/docs", json={"title": "doc %d" % n})
                self.assertEqual(response.status_code, 201, response.get_data(as_text=True))
                doc_id = docs[n] = response.get_json()["id"]
                for i in range(self.EDITS):
                    # The two workers write the tables in opposite orders.
                    for edit in (("paragraph", "tags", "section") if n == 0
                                 else ("section", "tags", "paragraph")):
                        if edit == "paragraph":
                            response = client.post("/docs/%s/paragraphs" % doc_id, json={
                                "body": "p%d" % i, "comments": ["c"],
                                "labels": [["w%d" % n, i]]})
                        elif edit == "tags":
                            response = client.put("/docs/%s/tags" % doc_id,
                                                  json=["t%d-%d" % (n, i)])
                        else:
                            response = client.post("/docs/%s/sections" % doc_id,
                                                   json={"title": "s%d" % i})
                        self.assertIn(response.status_code, (200, 201),
                                      response.get_data(as_text=True))
            except Exception as e:  # reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        try:
            self.assertEqual(errors, [])
            client = apps[0].test_client()
            for n, doc_id in enumerate(docs):
                status = client.post("/docs/%s/undo" % doc_id).get_json()
                self.assertEqual(status, {"undo": 3 * self.EDITS, "redo": 1})
                # worker 0 edited a section last, worker 1 a paragraph
                doc = client.get("/docs/%s" % doc_id).get_json()
                self.assertEqual((len(doc["paragraphs"]), len(doc["sections"])),
                                 (self.EDITS - n, self.EDITS - 1 + n))
        finally:
            for app in apps:
                with app.app_context():
                    editor.db.session.remove()
                    editor.db.engine.dispose()


if __name__ == "__main__":
    unittest.main()
