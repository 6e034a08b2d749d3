"""The 1.2 API of undoredo.sqlalchemy: actors, per-actor undo and redo,
revert, a step's changes, verify.

One document (scope doc:1) of paragraphs, edited by two actors in turn
through capture(actor=...); every result is read back from the database.
Runs against the server named by the PG* variables, as a superuser
(verify's checks disable a trigger and set session_replication_role).
"""
import support  # first: keeps a built undoredo.so off sys.path

import unittest

from sqlalchemy import Column, Integer, MetaData, String, select, text
from sqlalchemy.orm import declarative_base

import undoredo
from undoredo import sqlalchemy as ur

Base = declarative_base(metadata=MetaData())


class Para(Base):
    __tablename__ = "pyur12_para"
    id = Column(Integer, primary_key=True)
    body = Column(String)


SCOPES = [("doc", 1)]


class API12Test(support.SessionTest):
    metadata = Base.metadata
    scopes = SCOPES

    def step(self, actor, label=None, **bodies):
        """One step of doc:1 by actor: paragraphs set (a body) or deleted
        (None), committed."""
        with ur.capture(self.session, "doc", 1, label=label, actor=actor):
            for key, body in bodies.items():
                para = self.session.get(Para, int(key[1:]))
                if body is None:
                    self.session.delete(para)
                elif para is None:
                    self.session.add(Para(id=int(key[1:]), body=body))
                else:
                    para.body = body
            self.session.commit()

    def bodies(self):
        return self.session.execute(select(Para.id, Para.body).order_by(Para.id)).all()

    def history(self):
        return ur.history(self.session, "doc", 1)

    # ------------------------------------------------------------ actors

    def test_two_actors_interleaving(self):
        self.step("alice", p1="a1")
        self.step("bob", p2="b1")
        self.step("alice", p1="a2")
        self.step("bob", p2="b2")
        self.assertEqual([(h.position, h.actor, h.reverts) for h in self.history()],
                         [(1, "alice", None), (2, "bob", None), (3, "alice", None),
                          (4, "bob", None)])
        self.assertEqual(ur.status(self.session, "doc", 1), (4, 0))
        self.assertEqual(ur.status(self.session, "doc", 1, actor="alice"), (2, 0))
        # Alice's newest step, although Bob's is newer; Bob's edit stays.
        self.assertEqual(ur.undo(self.session, "doc", 1, actor="alice"), (1, 1))
        self.assertEqual(self.bodies(), [(1, "a1"), (2, "b2")])
        self.assertEqual(ur.undo(self.session, "doc", 1, actor="bob"), (1, 1))
        self.assertEqual(self.bodies(), [(1, "a1"), (2, "b1")])
        self.assertEqual(ur.status(self.session, "doc", 1), (2, 2))
        self.assertEqual([h.state for h in self.history()], ["undo", "undo", "redo", "redo"])
        self.assertEqual(ur.redo(self.session, "doc", 1, actor="alice"), (2, 0))
        self.assertEqual(self.bodies(), [(1, "a2"), (2, "b1")])
        self.assertEqual(ur.status(self.session, "doc", 1, actor="bob"), (1, 1))
        self.assertEqual(ur.undo(self.session, "doc", 1, steps=2, actor="alice"), (0, 2))
        self.assertEqual(self.bodies(), [(2, "b1")])
        self.assertEqual(ur.redo(self.session, "doc", 1, actor="bob"), (2, 0))
        self.assertEqual(self.bodies(), [(2, "b2")])
        self.session.commit()
        self.assertEqual(ur.status(self.session, "doc", 1), (2, 2))

    def test_a_new_step_discards_its_actors_redo_only(self):
        self.step("alice", p1="a1")
        self.step("alice", p1="a2")
        self.assertEqual(ur.undo(self.session, "doc", 1, actor="alice"), (1, 1))
        self.session.commit()
        self.step("bob", p2="b1")
        self.assertEqual(ur.status(self.session, "doc", 1, actor="alice"), (1, 1))
        self.step("alice", p3="a3")
        self.assertEqual(ur.status(self.session, "doc", 1, actor="alice"), (2, 0))
        self.assertEqual(ur.redo(self.session, "doc", 1, actor="alice"), (2, 0))
        self.assertEqual(self.bodies(), [(1, "a1"), (2, "b1"), (3, "a3")])

    def actor(self):
        return self.sql("SELECT current_setting('undoredo.actor', true)")

    def test_capture_sets_the_actor_with_the_scope(self):
        self.session.add(Para(id=1, body="x"))
        self.session.flush()     # a transaction is open: set at once
        with ur.capture(self.session, "doc", 1, actor="alice"):
            self.assertEqual(self.actor(), "alice")
            with ur.capture(self.session, "doc", 2):              # inherits
                self.assertEqual(self.actor(), "alice")
            with ur.capture(self.session, "doc", 2, actor="bob"):
                self.assertEqual(self.actor(), "bob")
            self.assertEqual(self.actor(), "alice")
            self.session.get(Para, 1).body = "y"
        self.assertEqual(self.actor(), "")
        self.session.commit()
        # A block that commits twice: its actor in each new transaction.
        with ur.capture(self.session, "doc", 1, actor="carol"):
            self.session.get(Para, 1).body = "z"
            self.session.commit()
            self.assertEqual(self.actor(), "carol")
            self.session.add(Para(id=2, body="w"))
            self.session.commit()
        self.assertEqual([h.actor for h in self.history()], ["alice", "carol", "carol"])

    def test_capture_without_actor_leaves_the_setting_alone(self):
        self.session.execute(text("SET LOCAL undoredo.actor = 'dave'"))
        with ur.capture(self.session, "doc", 1):
            self.session.add(Para(id=1, body="x"))
            self.assertEqual(self.actor(), "dave")
        self.assertEqual(self.actor(), "dave")
        self.session.commit()
        with ur.capture(self.session, "doc", 1):
            self.session.add(Para(id=2, body="x"))
        self.session.commit()
        self.assertEqual([h.actor for h in self.history()], ["dave", None])
        with self.assertRaises(TypeError):
            ur.capture(self.session, "doc", 1, actor=7)

    # ------------------------------------------------------------ revert

    def test_revert(self):
        self.step("alice", "Create", p1="x", p2="y")
        self.step("bob", "Edit 1", p1="x2")
        self.step("alice", "Edit 2", p2="y2")
        edit1 = self.history()[1].step
        self.assertEqual(ur.revert(self.session, "doc", 1, edit1, actor="carol"), (4, 0))
        self.assertEqual(self.bodies(), [(1, "x"), (2, "y2")])
        last = self.history()[-1]
        self.assertEqual((last.position, last.label, last.actor, last.reverts, last.changes),
                         (4, "Revert: Edit 1", "carol", edit1, 1))
        # Set for that call only.
        self.assertIn(self.actor(), ("", None))
        # The revert is a step like any other: undoing it re-applies Edit 1.
        self.assertEqual(ur.undo(self.session, "doc", 1), (3, 1))
        self.assertEqual(self.bodies(), [(1, "x2"), (2, "y2")])
        self.session.commit()
        # A label of its own; inside a capture block its actor applies.
        # Carol's undone revert stays redoable: a step discards the redo
        # history of its own actor only.
        with ur.capture(self.session, "doc", 1, actor="dave"):
            self.assertEqual(ur.revert(self.session, "doc", 1, self.history()[2].step,
                                       label="Undo Edit 2 only"), (4, 1))
        self.assertEqual([(h.label, h.actor, h.state) for h in self.history()[3:]],
                         [("Revert: Edit 1", "carol", "redo"),
                          ("Undo Edit 2 only", "dave", "undo")])
        self.assertEqual(self.bodies(), [(1, "x2"), (2, "y")])

    def test_revert_conflict_names_the_later_step(self):
        self.step("alice", "Create", p1="a")
        self.step("bob", "Rename", p1="b")
        create, rename = [h.step for h in self.history()]
        with self.assertRaises(undoredo.Conflict) as raised:
            ur.revert(self.session, "doc", 1, create)
        c = raised.exception
        self.assertEqual((c.action, c.object_type, c.object_id, c.step, c.step_id, c.label),
                         ("revert", "doc", 1, 1, create, "Create"))
        self.assertEqual((c.later_step, c.later_step_id, c.later_label),
                         (2, rename, "Rename"))
        self.assertEqual((c.table, c.key, c.pgcode), ("pyur12_para", "(id)=(1)", "UR001"))
        self.assertEqual(str(c), 'cannot revert step 1 ("Create") of doc 1: row (id)=(1) of '
                                 'table "pyur12_para" has been changed since; step 2 '
                                 '("Rename") changed it later')
        # Nothing changed, the transaction is usable; force overwrites.
        self.assertEqual(self.bodies(), [(1, "b")])
        self.assertEqual(ur.status(self.session, "doc", 1), (2, 0))
        self.assertEqual(ur.revert(self.session, "doc", 1, create, force=True), (3, 0))
        self.assertEqual(self.bodies(), [])
        self.assertEqual(self.sql("SELECT current_setting('undoredo.on_conflict')"), "error")

    def test_revert_conflict_outside_the_history(self):
        self.step("alice", "Create", p1="a")
        self.step("alice", "Rename", p1="b")
        with self.engine.begin() as other:
            other.execute(text("UPDATE pyur12_para SET body = 'elsewhere'"))
        with self.assertRaises(undoredo.Conflict) as raised:
            ur.revert(self.session, "doc", 1, self.history()[1].step)
        c = raised.exception
        self.assertEqual((c.step, c.later_step, c.later_step_id, c.later_label),
                         (2, None, None, None))
        self.assertEqual(str(c), 'cannot revert step 2 ("Rename") of doc 1: row (id)=(1) of '
                                 'table "pyur12_para" has been changed since')

    def test_undo_by_actor_conflict_names_the_later_step(self):
        self.step("alice", "Write", p1="a")
        self.step("bob", "Overwrite", p1="b")
        with self.assertRaises(undoredo.Conflict) as raised:
            ur.undo(self.session, "doc", 1, actor="alice")
        c = raised.exception
        self.assertEqual((c.action, c.step, c.label, c.later_step, c.later_label),
                         ("undo", 1, "Write", 2, "Overwrite"))
        self.assertEqual(self.bodies(), [(1, "b")])
        self.assertEqual(ur.status(self.session, "doc", 1, actor="alice"), (1, 0))

    def test_revert_of_an_undone_or_unknown_step(self):
        self.step("alice", "Create", p1="a")
        self.step("alice", "Rename", p1="b")
        rename = self.history()[1].step
        self.assertEqual(ur.undo(self.session, "doc", 1), (1, 1))
        with self.assertRaises(undoredo.StepUndone) as raised:
            ur.revert(self.session, "doc", 1, rename)
        e = raised.exception
        self.assertIsInstance(e, undoredo.ReplayError)
        self.assertEqual((e.action, e.step, e.step_id, e.label, e.pgcode, e.table),
                         ("revert", 2, rename, "Rename", "55000", None))
        self.assertEqual(str(e), 'cannot revert step 2 ("Rename") of doc 1: it has been undone')
        with self.assertRaises(undoredo.UnknownStep) as raised:
            ur.revert(self.session, "doc", 1, rename + 1000)
        e = raised.exception
        self.assertIsInstance(e, ValueError)
        self.assertEqual((e.action, e.step_id, e.pgcode), ("revert", rename + 1000, "22023"))
        self.assertEqual(str(e), "step #%d is not in the history of doc 1" % (rename + 1000))
        # The transaction is still usable after both.
        self.assertEqual(self.bodies(), [(1, "a")])
        self.assertEqual(ur.redo(self.session, "doc", 1), (2, 0))

    def test_revert_not_captured(self):
        # Refused rather than recorded in part: a ReplayError naming the step.
        self.step("alice", "Create", p1="a")
        self.session.execute(text("ALTER TABLE pyur12_para DISABLE TRIGGER USER"))
        with self.assertRaises(undoredo.ReplayError) as raised:
            ur.revert(self.session, "doc", 1, self.history()[0].step)
        e = raised.exception
        self.assertEqual((type(e), e.action, e.step, e.label, e.pgcode),
                         (undoredo.ReplayError, "revert", 1, "Create", "55000"))
        self.assertEqual(str(e), 'cannot revert step 1 ("Create") of doc 1: '
                                 '1 of its 1 changes were not captured')
        self.assertEqual(self.bodies(), [(1, "a")])

    # ----------------------------------------------------- changes, verify

    def test_changes(self):
        self.step("alice", p1="a", p2="b")
        self.step("alice", p1="a2", p2=None, p3="c")
        steps = [h.step for h in self.history()]
        changes = ur.changes(self.session, "doc", 1, steps[1])
        self.assertEqual(sorted((c.op, c.table, c.key, c.old, c.new) for c in changes), sorted([
            ("update", "pyur12_para", {"id": 1}, {"body": "a"}, {"body": "a2"}),
            ("delete", "pyur12_para", {"id": 2}, {"id": 2, "body": "b"}, None),
            ("insert", "pyur12_para", {"id": 3}, None, {"id": 3, "body": "c"})]))
        self.assertEqual([c.seq for c in changes], [1, 2, 3])
        self.assertIsInstance(changes[0], ur.Change)
        # Streamed in batches: the same rows, in the same order.
        self.assertEqual(list(ur.iter_changes(self.session, "doc", 1, steps[1], batch=1)),
                         changes)
        self.assertEqual(ur.changes(self.session, "doc", 1, steps[0])[0],
                         ur.Change(1, "pyur12_para", "insert", {"id": 1}, None,
                                   {"id": 1, "body": "a"}))
        with self.assertRaises(undoredo.UnknownStep) as raised:
            ur.iter_changes(self.session, "doc", 1, steps[1] + 1000)   # before any row
        self.assertEqual((raised.exception.action, raised.exception.pgcode), ("changes", None))
        self.assertEqual(len(self.bodies()), 2)   # still usable

    def problems(self):
        return [p for p in ur.verify(self.session)
                if p.table is None or p.table.startswith("pyur12_")]

    def test_verify(self):
        self.step("alice", p1="a")
        self.assertEqual(self.problems(), [])
        self.session.execute(text(
            "CREATE TABLE pyur12_note (id int PRIMARY KEY,"
            " para int REFERENCES pyur12_para ON DELETE CASCADE)"))
        self.addCleanup(self.drop_note)
        self.assertEqual([p.table for p in self.problems()], ["pyur12_note"])
        self.assertIsInstance(self.problems()[0], ur.Problem)
        self.session.rollback()
        self.session.execute(text("ALTER TABLE pyur12_para DISABLE TRIGGER USER"))
        self.assertEqual({p.table for p in self.problems()}, {"pyur12_para"})
        self.session.rollback()
        # Run in the session's transaction: its own settings count.
        self.session.execute(text("SET LOCAL session_replication_role = replica"))
        self.assertEqual([p.table for p in self.problems()], [None])
        self.session.rollback()
        self.assertEqual(self.problems(), [])

    def drop_note(self):
        with self.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS pyur12_note"))


if __name__ == "__main__":
    unittest.main()
