"""undoredo.flask.UndoRedo as a drop-in for Flask-UndoRedo.

The first four tests are the original library's own tests (updates,
inserts, deletes, clear history), ported with only the import changed in
spirit: a plain SQLAlchemy session, a Flask app that still sets
UNDO_REDO_DATABASE_URI (now warned about), tables never registered with
undoredo (capture tracks them on first write).  Unlike the original they
also assert the returned (undo_count, redo_count), counted in steps, and
order the rows by id.  The rest use Flask-SQLAlchemy's db.session the way a
Flask app does.  Runs against the server named by the PG* variables.
"""
import support  # first: keeps a built undoredo.so off sys.path

import threading
import unittest

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Column, Integer, MetaData, String, text
from sqlalchemy.orm import declarative_base, sessionmaker

import undoredo
from undoredo.flask import UndoRedo
from undoredo.sqlalchemy import track_tables

Base = declarative_base(metadata=MetaData())


class Widget(Base):
    __tablename__ = "pyur_flask_widget"

    id = Column(Integer, primary_key=True)
    name = Column(String, nullable=False)


class OriginalTestsTest(unittest.TestCase):
    """The four tests of Flask-UndoRedo."""

    @classmethod
    def setUpClass(cls):
        cls.engine = support.make_engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.dispose()

    def setUp(self):
        support.clean_up(self.engine, Base.metadata, [("widget", 1)])
        Base.metadata.create_all(self.engine)
        self.session = sessionmaker(bind=self.engine, future=True)()
        self.undo_redo = UndoRedo()
        app = Flask(__name__)
        app.config["UNDO_REDO_DATABASE_URI"] = "sqlite:///:memory:"
        self.app_context = app.app_context()
        self.app_context.push()
        with self.assertWarnsRegex(UserWarning, "UNDO_REDO_DATABASE_URI is ignored"):
            self.undo_redo.init_app(app)
        self.addCleanup(self.detach)

    def detach(self):
        self.app_context.pop()
        self.session.close()
        support.clean_up(self.engine, Base.metadata, [("widget", 1)])

    def names(self):
        return [w.name for w in self.session.query(Widget).order_by(Widget.id)]

    def test_undo_redo_updates(self):
        self.session.add(Widget(name="Foo"))
        self.session.add(Widget(name="Bar"))
        self.session.flush()

        with self.undo_redo.capture(self.session, "widget", 1):
            self.session.query(Widget).filter_by(name="Foo").update({"name": "Baz"})

        self.assertEqual(self.names(), ["Baz", "Bar"])
        self.assertEqual(self.undo_redo.undo(self.session, "widget", 1), (0, 1))
        self.assertEqual(self.names(), ["Foo", "Bar"])
        self.assertEqual(self.undo_redo.redo(self.session, "widget", 1), (1, 0))
        self.assertEqual(self.names(), ["Baz", "Bar"])

    def test_undo_redo_inserts(self):
        for name in ("Foo", "Bar", "Baz"):
            with self.undo_redo.capture(self.session, "widget", 1):
                self.session.add(Widget(name=name))
                self.session.commit()

        expected = [["Foo", "Bar", "Baz"], ["Foo", "Bar"], ["Foo"], []]
        for i in range(4):
            self.assertEqual(self.names(), expected[i])
            self.assertEqual(self.undo_redo.undo(self.session, "widget", 1),
                             (max(2 - i, 0), min(i + 1, 3)))
        self.assertEqual(self.names(), [])
        for i in range(3, 0, -1):
            self.assertEqual(self.undo_redo.redo(self.session, "widget", 1), (4 - i, i - 1))
            self.assertEqual(self.names(), expected[i - 1])

    def test_undo_redo_deletes(self):
        self.session.add_all((Widget(name="Foo"), Widget(name="Bar"), Widget(name="Baz")))
        self.session.flush()

        for name in ("Foo", "Bar", "Baz"):
            with self.undo_redo.capture(self.session, "widget", 1):
                self.session.query(Widget).filter_by(name=name).delete()
                self.session.commit()

        expected = [[], ["Baz"], ["Bar", "Baz"], ["Foo", "Bar", "Baz"]]
        for i in range(4):
            self.assertEqual(self.names(), expected[i])
            self.assertEqual(self.undo_redo.undo(self.session, "widget", 1),
                             (max(2 - i, 0), min(i + 1, 3)))
        # The rows flushed before the first block were not captured.
        self.assertEqual(self.names(), ["Foo", "Bar", "Baz"])
        for i in range(3, 0, -1):
            self.assertEqual(self.undo_redo.redo(self.session, "widget", 1), (4 - i, i - 1))
            self.assertEqual(self.names(), expected[i - 1])

    def test_clear_history(self):
        for name in ("Foo", "Bar", "Baz"):
            with self.undo_redo.capture(self.session, "widget", 1):
                self.session.add(Widget(name=name))
                self.session.commit()

        self.assertEqual(self.undo_redo.undo(self.session, "widget", 1), (2, 1))
        self.undo_redo.clear_history("widget", 1)
        self.assertEqual(self.undo_redo.undo(self.session, "widget", 1), (0, 0))
        self.assertEqual(self.undo_redo.redo(self.session, "widget", 1), (0, 0))
        self.assertEqual(self.names(), ["Foo", "Bar"])


    def test_clear_history_needs_a_session(self):
        # An app without Flask-SQLAlchemy, and no session passed in this thread.
        with self.assertRaisesRegex(RuntimeError, r"clear_history\(\) needs a session"):
            UndoRedo().clear_history("widget", 1)


class FlaskAppTest(unittest.TestCase):
    """An app with Flask-SQLAlchemy, a Note model and UndoRedo(app); its
    app context pushed.  configure(app) sets more of the app's config."""

    @classmethod
    def setUpClass(cls):
        support.make_engine().dispose()

    def configure(self, app):
        pass

    def setUp(self):
        self.app = Flask(__name__)
        self.app.config["SQLALCHEMY_DATABASE_URI"] = support.URL
        self.configure(self.app)
        self.db = SQLAlchemy(self.app, engine_options={"future": True},
                             session_options={"future": True})
        db = self.db

        class Note(db.Model):
            __tablename__ = "pyur_flask_note"
            id = db.Column(db.Integer, primary_key=True)
            body = db.Column(db.String, nullable=False)

        self.Note = Note
        self.undo_redo = UndoRedo(self.app)
        self.app_context = self.app.app_context()
        self.app_context.push()
        support.clean_up(db.engine, db.metadata, [("note", 7)])
        db.create_all()
        self.addCleanup(self.detach)

    def detach(self):
        self.db.session.remove()
        support.clean_up(self.db.engine, self.db.metadata, [("note", 7)])
        self.app_context.pop()

    def bodies(self):
        return self.db.session.scalars(
            self.db.select(self.Note.body).order_by(self.Note.id)).all()


class FlaskSQLAlchemyTest(FlaskAppTest):
    """UndoRedo(app) with Flask-SQLAlchemy's scoped db.session."""

    def test_db_session_round_trip(self):
        db, Note = self.db, self.Note
        with self.undo_redo.capture(db.session, "note", 7, label="Write"):
            db.session.add(Note(id=1, body="first"))
            db.session.commit()
        with self.undo_redo.capture(db.session, "note", 7, label="Edit"):
            db.session.get(Note, 1).body = "second"
            db.session.commit()

        self.assertEqual(self.undo_redo.status(db.session, "note", 7), (2, 0))
        self.assertEqual([(h.label, h.state, h.changes)
                          for h in self.undo_redo.history(db.session, "note", 7)],
                         [("Write", "undo", 1), ("Edit", "undo", 1)])
        self.assertEqual(self.undo_redo.undo(db.session, "note", 7), (1, 1))
        self.assertEqual(self.bodies(), ["first"])
        # The loaded object was expired by undo: it shows the undone value.
        self.assertEqual(db.session.get(Note, 1).body, "first")
        db.session.commit()
        self.assertEqual(self.undo_redo.undo(db.session, "note", 7), (0, 2))
        self.assertEqual(self.bodies(), [])
        self.assertEqual(self.undo_redo.redo(db.session, "note", 7, steps=2), (2, 0))
        self.assertEqual(self.bodies(), ["second"])
        self.undo_redo.clear_history("note", 7)
        self.assertEqual(self.undo_redo.status(db.session, "note", 7), (0, 0))

    def test_track_defaults_to_db_session(self):
        # No session passed: track() uses Flask-SQLAlchemy's db.session.
        # (The test creates no triggers: any non-internal one is undoredo's.)
        self.undo_redo.track(self.Note)
        triggers = support.scalar(
            self.db.session,
            "SELECT count(*) FROM pg_catalog.pg_trigger"
            " WHERE tgrelid = 'pyur_flask_note'::regclass AND NOT tgisinternal")
        self.assertGreater(triggers, 0)

    def test_conflict_and_force(self):
        db, Note = self.db, self.Note
        with self.undo_redo.capture(db.session, "note", 7, label="Write"):
            db.session.add(Note(id=1, body="first"))
        db.session.commit()
        with db.engine.begin() as other:
            other.execute(text("UPDATE pyur_flask_note SET body = 'elsewhere'"))
        with self.assertRaises(undoredo.Conflict) as raised:
            self.undo_redo.undo(db.session, "note", 7)
        self.assertEqual((raised.exception.step, raised.exception.label, raised.exception.table),
                         (1, "Write", "pyur_flask_note"))
        self.assertEqual(self.bodies(), ["elsewhere"])   # the session is usable
        self.assertEqual(self.undo_redo.undo(db.session, "note", 7, force=True), (0, 1))
        self.assertEqual(self.bodies(), [])

    def test_clear_history_uses_db_session(self):
        with self.undo_redo.capture(self.db.session, "note", 7):
            self.db.session.add(self.Note(id=1, body="first"))
        # The open transaction holds the scope's lock: any other session
        # would wait for it.  No session was passed to this UndoRedo object.
        other = UndoRedo(self.app)
        other.clear_history("note", 7)
        self.assertEqual(other.status(self.db.session, "note", 7), (0, 0))

    def test_verify(self):
        self.undo_redo.track(self.Note)
        self.assertEqual([p for p in self.undo_redo.verify(self.db.session)
                          if p.table == "pyur_flask_note"], [])
        self.db.session.execute(text("ALTER TABLE pyur_flask_note DISABLE TRIGGER USER"))
        self.assertEqual([p.table for p in self.undo_redo.verify(self.db.session)
                          if p.table == "pyur_flask_note"][:1], ["pyur_flask_note"])


class ActorTest(FlaskAppTest):
    """UNDO_REDO_ACTOR: the app's callable naming the current user."""

    def configure(self, app):
        self.user = None
        self.calls = 0

        def current_user():
            self.calls += 1
            return self.user

        app.config["UNDO_REDO_ACTOR"] = current_user

    def write(self, user, note_id, body):
        self.user = user
        with self.undo_redo.capture(self.db.session, "note", 7):
            note = self.db.session.get(self.Note, note_id)
            if note is None:
                self.db.session.add(self.Note(id=note_id, body=body))
            else:
                note.body = body
        self.db.session.commit()

    def test_actor_called_at_each_capture(self):
        self.write("alice", 1, "a")
        self.write("bob", 2, "b")
        self.write(None, 3, "c")
        self.write("alice", 1, "a2")
        self.assertEqual(self.calls, 4)
        ur, session = self.undo_redo, self.db.session
        self.assertEqual([h.actor for h in ur.history(session, "note", 7)],
                         ["alice", "bob", None, "alice"])
        # actor= wins over the callable; undo and redo take it explicitly.
        with ur.capture(session, "note", 7, actor="carol"):
            session.get(self.Note, 3).body = "c2"
        session.commit()
        self.assertEqual(self.calls, 4)
        self.user = "bob"
        self.assertEqual(ur.current_actor(), "bob")
        self.assertEqual(ur.undo(session, "note", 7, actor=ur.current_actor()), (0, 1))
        self.assertEqual(self.bodies(), ["a2", "c2"])
        self.assertEqual(ur.status(session, "note", 7, actor="alice"), (2, 0))
        self.assertEqual(ur.status(session, "note", 7), (4, 1))
        self.assertEqual(ur.redo(session, "note", 7, actor="bob"), (1, 0))
        # A revert is a step too: the current user's.
        self.user = "dave"
        alice_edit = ur.history(session, "note", 7)[3].step
        self.assertEqual(ur.revert(session, "note", 7, alice_edit), (6, 0))
        last = ur.history(session, "note", 7)[-1]
        self.assertEqual((last.actor, last.reverts), ("dave", alice_edit))
        self.assertEqual(self.bodies(), ["a", "b", "c2"])
        self.assertEqual([(c.op, c.key, c.old, c.new)
                          for c in ur.changes(session, "note", 7, last.step)],
                         [("update", {"id": 1}, {"body": "a2"}, {"body": "a"})])
        with self.assertRaises(undoredo.UnknownStep):
            ur.revert(session, "note", 7, last.step + 1000)

    def test_not_a_callable(self):
        app = Flask(__name__)
        app.config["UNDO_REDO_ACTOR"] = "alice"
        with self.assertRaisesRegex(TypeError, "UNDO_REDO_ACTOR must be a callable"):
            UndoRedo(app)

    def test_without_it_no_actor_is_set(self):
        # The drop-in unchanged: no UNDO_REDO_ACTOR, undoredo.actor untouched.
        session = sessionmaker(bind=self.db.engine, future=True)()
        self.addCleanup(session.close)
        app = Flask(__name__)
        undo_redo = UndoRedo(app)
        with app.app_context():
            self.assertIsNone(undo_redo.current_actor())
        self.user = "bob"   # the app in context (self.app's) is the one asked
        self.assertEqual(UndoRedo().current_actor(), "bob")
        calls = self.calls
        with app.app_context():
            session.execute(text("SET LOCAL undoredo.actor = 'set by the app'"))
            with undo_redo.capture(session, "note", 7):
                session.add(self.Note(id=1, body="x"))
            self.assertEqual(support.scalar(session, "SELECT current_setting('undoredo.actor')"),
                             "set by the app")
            session.commit()
            with undo_redo.capture(session, "note", 7):
                session.add(self.Note(id=2, body="y"))
            session.commit()
            self.assertEqual([h.actor for h in undo_redo.history(session, "note", 7)],
                             ["set by the app", None])
        self.assertEqual(self.calls, calls)


class ThreadsTest(unittest.TestCase):
    """clear_history with plain sessions in two threads sharing one UndoRedo."""

    def setUp(self):
        # lock_timeout: a clear run in the wrong session would wait for the
        # other's lock forever; this turns that into an error.
        self.engine = support.make_engine(options="-c lock_timeout=5s")
        support.clean_up(self.engine, Base.metadata, [("widget", 1), ("widget", 2)])
        Base.metadata.create_all(self.engine)
        track_tables(self.engine, Base.metadata)
        self.addCleanup(self.detach)

    def detach(self):
        support.clean_up(self.engine, Base.metadata, [("widget", 1), ("widget", 2)])
        self.engine.dispose()

    def test_clear_history_uses_this_threads_session(self):
        undo_redo = UndoRedo()
        make = sessionmaker(bind=self.engine, future=True)
        a_wrote, b_passed, errors = threading.Event(), threading.Event(), []

        def thread_a():
            try:
                session = make()
                with undo_redo.capture(session, "widget", 1):
                    session.add(Widget(id=1, name="a"))    # flushed: holds widget:1's lock
                a_wrote.set()
                b_passed.wait(30)
                undo_redo.clear_history("widget", 1)      # in this thread's session
                self.assertEqual(undo_redo.status(session, "widget", 1), (0, 0))
                session.commit()
                session.close()
            except Exception as e:  # reported by the main thread
                errors.append(e)
            finally:
                a_wrote.set()

        def thread_b():
            try:
                a_wrote.wait(30)
                session = make()
                with undo_redo.capture(session, "widget", 2):
                    session.add(Widget(id=2, name="b"))
                session.commit()
                self.assertEqual(undo_redo.status(session, "widget", 2), (1, 0))
                session.close()
            except Exception as e:
                errors.append(e)
            finally:
                b_passed.set()

        threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        with self.engine.connect() as conn:
            self.assertEqual(
                conn.execute(text("SELECT count(*) FROM undoredo_history('widget', 1)")).scalar(), 0)
            self.assertEqual(
                conn.execute(text("SELECT count(*) FROM undoredo_history('widget', 2)")).scalar(), 1)


if __name__ == "__main__":
    unittest.main()
