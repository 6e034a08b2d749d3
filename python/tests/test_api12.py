"""The 1.2 API of undoredo.sqlalchemy: actors, per-actor undo and redo.

One document (scope doc:1) of paragraphs, edited by two actors in turn
through capture(actor=...); every result is read back from the database.
Runs against the server named by the PG* variables.
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



if __name__ == "__main__":
    unittest.main()
