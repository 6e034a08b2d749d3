"""undoredo.sqlalchemy with plain SQLAlchemy sessions (2.0 style).

What Flask-UndoRedo never handled: ORM unit-of-work updates and deletes,
ORM and database cascades, relationship changes, text() SQL, exact values
of bytes/Decimal/datetime/JSON columns, isolated stacks of one object type;
and how capture() sets the scope: for a transaction already open with
flushed rows, for every transaction begun in the block (commit inside it),
reset afterwards, with tables tracked before their first write.  Every test
creates its tables (never tracked beforehand), reads the results back from
the database and drops everything at the end.  Runs against the server
named by the PG* variables.
"""
import support  # first: keeps a built undoredo.so off sys.path

import datetime
import decimal
import unittest

from sqlalchemy import (JSON, Column, DateTime, ForeignKey, Integer, LargeBinary, MetaData,
                        Numeric, String, Table, delete, insert, select, text, update)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import declarative_base, relationship

import undoredo
from undoredo import sqlalchemy as ur

Base = declarative_base(metadata=MetaData())

item_tag = Table("pyur_item_tag", Base.metadata,
                 Column("item_id", ForeignKey("pyur_item.id"), primary_key=True),
                 Column("tag_id", ForeignKey("pyur_tag.id"), primary_key=True))


class Item(Base):
    __tablename__ = "pyur_item"
    id = Column(Integer, primary_key=True)
    name = Column(String)
    data = Column(LargeBinary)
    price = Column(Numeric)
    at = Column(DateTime(timezone=True))
    doc = Column(JSONB)
    raw = Column(JSON)
    tags = relationship("Tag", secondary=item_tag)


class Tag(Base):
    __tablename__ = "pyur_tag"
    id = Column(Integer, primary_key=True)
    name = Column(String)


class Parent(Base):                      # ORM cascade: children deleted by the flush
    __tablename__ = "pyur_parent"
    id = Column(Integer, primary_key=True)
    children = relationship("Child", cascade="all, delete-orphan")


child_tag = Table("pyur_child_tag", Base.metadata,
                  Column("child_id", ForeignKey("pyur_child.id"), primary_key=True),
                  Column("tag_id", ForeignKey("pyur_tag.id"), primary_key=True))


class Child(Base):
    __tablename__ = "pyur_child"
    id = Column(Integer, primary_key=True)
    parent_id = Column(ForeignKey("pyur_parent.id"), nullable=False)
    notes = relationship("Note", cascade="all, delete-orphan")
    tags = relationship("Tag", secondary=child_tag)


class Note(Base):                        # reached only through the orphan's cascade
    __tablename__ = "pyur_note"
    id = Column(Integer, primary_key=True)
    child_id = Column(ForeignKey("pyur_child.id"), nullable=False)
    body = Column(String)


class Owner(Base):                       # no cascade: the flush clears the pets' key
    __tablename__ = "pyur_owner"
    id = Column(Integer, primary_key=True)
    pets = relationship("Pet")


class Pet(Base):
    __tablename__ = "pyur_pet"
    id = Column(Integer, primary_key=True)
    owner_id = Column(ForeignKey("pyur_owner.id"))


folder = Table("pyur_folder", Base.metadata,  # database cascade, no ORM
               Column("id", Integer, primary_key=True))
page = Table("pyur_page", Base.metadata,
             Column("id", Integer, primary_key=True),
             Column("folder_id", ForeignKey("pyur_folder.id", ondelete="CASCADE")))

SCOPES = [("item", 1), ("item", 2), ("parent", 1), ("owner", 1), ("folder", 1), ("other", 1)]

VALUES = dict(name="n", data=b"\x00\xffbytes", price=decimal.Decimal("1.50"),
              at=datetime.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=datetime.timezone.utc),
              doc={"a": [1, 2.5, None], "b": "\u00e9"}, raw={"z": 1, "a": 2})


class SQLAlchemyTest(support.SessionTest):
    metadata = Base.metadata
    scopes = SCOPES

    def scope(self):
        return self.sql("SELECT current_setting('undoredo.scope', true)")

    def tracked(self, table):
        # The tests create no triggers: any but foreign keys' are undoredo's.
        return self.sql("SELECT count(*) FROM pg_catalog.pg_trigger"
                        " WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal",
                        t=table) > 0

    def test_unit_of_work_update(self):
        self.session.add(Item(id=1, name="old"))
        self.session.commit()
        with ur.capture(self.session, "item", 1):
            item = self.session.get(Item, 1)
            item.name = "new"
            self.session.commit()
        self.assertEqual(ur.undo(self.session, "item", 1), (0, 1))
        self.assertEqual(self.sql("SELECT name FROM pyur_item"), "old")
        self.assertEqual(item.name, "old")
        # The loaded object shows the rows as undo and redo leave them.
        self.assertEqual(ur.redo(self.session, "item", 1), (1, 0))
        self.assertEqual(item.name, "new")
        self.assertEqual(ur.undo(self.session, "item", 1), (0, 1))
        self.assertEqual(item.name, "old")

    def test_values_round_trip(self):
        self.session.add(Item(id=1, **VALUES))
        self.session.commit()
        with ur.capture(self.session, "item", 1):
            item = self.session.get(Item, 1)
            item.data, item.price, item.doc = b"x", decimal.Decimal("2"), {}
            item.at, item.raw = datetime.datetime.now(datetime.timezone.utc), [1]
            self.session.commit()
        with ur.capture(self.session, "item", 1):
            self.session.delete(self.session.get(Item, 1))
            self.session.commit()
        self.assertEqual(self.sql("SELECT count(*) FROM pyur_item"), 0)
        self.assertEqual(ur.undo(self.session, "item", 1), (1, 1))
        self.assertEqual(ur.undo(self.session, "item", 1), (0, 2))
        item = self.session.get(Item, 1)
        self.assertEqual({k: getattr(item, k) for k in VALUES}, VALUES)
        self.assertEqual(str(item.price), "1.50")
        # json keeps its text byte for byte (key order, spacing).
        self.assertEqual(self.sql("SELECT raw::text FROM pyur_item"),
                         self.sql("SELECT CAST(:v AS json)::text", v='{"z": 1, "a": 2}'))

    def test_orm_cascade(self):
        self.session.add(Parent(id=1, children=[Child(id=1), Child(id=2)]))
        self.session.commit()
        with ur.capture(self.session, "parent", 1):
            self.session.delete(self.session.get(Parent, 1))
            self.session.commit()
        self.assertEqual(self.sql("SELECT count(*) FROM pyur_child"), 0)
        self.assertEqual(ur.undo(self.session, "parent", 1), (0, 1))
        self.assertEqual(sorted(c.id for c in self.session.get(Parent, 1).children), [1, 2])

    def test_flush_clears_foreign_keys(self):
        # Deleting the owner makes the flush set pyur_pet.owner_id to NULL:
        # that table is tracked although no Pet object was touched.
        self.session.add(Owner(id=1, pets=[Pet(id=1), Pet(id=2)]))
        self.session.commit()
        with ur.capture(self.session, "owner", 1):
            self.session.delete(self.session.get(Owner, 1))
            self.session.commit()
        self.assertEqual(self.sql("SELECT count(owner_id) FROM pyur_pet"), 0)
        self.assertEqual(ur.undo(self.session, "owner", 1), (0, 1))
        self.assertEqual(self.session.scalars(select(Pet.owner_id).order_by(Pet.id)).all(),
                         [1, 1])

    def test_many_to_many(self):
        self.session.add_all([Item(id=1), Tag(id=1), Tag(id=2)])
        self.session.commit()
        with ur.capture(self.session, "item", 1):
            item = self.session.get(Item, 1)
            item.tags.extend([self.session.get(Tag, 1), self.session.get(Tag, 2)])
            self.session.commit()
        self.assertEqual(self.sql("SELECT count(*) FROM pyur_item_tag"), 2)
        self.assertEqual(ur.undo(self.session, "item", 1), (0, 1))
        self.assertEqual(self.session.get(Item, 1).tags, [])

    def test_database_cascade(self):
        # pyur_page is written only by ON DELETE CASCADE: tracking
        # pyur_folder on first write tracks it too.
        self.session.execute(insert(folder).values(id=1))
        self.session.execute(insert(page), [{"id": 1, "folder_id": 1}, {"id": 2, "folder_id": 1}])
        self.session.commit()
        with ur.capture(self.session, "folder", 1):
            self.session.execute(delete(folder).where(folder.c.id == 1))
        self.assertTrue(self.tracked("pyur_page"))
        self.assertEqual(self.sql("SELECT count(*) FROM pyur_page"), 0)
        self.assertEqual(ur.undo(self.session, "folder", 1), (0, 1))
        self.assertEqual(self.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM pyur_page"),
                         "1,2")

    def test_text_sql(self):
        self.session.add(Item(id=1, name="a"))
        ur.track(self.session, Item)
        self.session.commit()
        with ur.capture(self.session, "item", 1):
            self.session.execute(text("UPDATE pyur_item SET name = 'b' WHERE id = 1"))
            self.session.commit()
        self.assertEqual(ur.undo(self.session, "item", 1), (0, 1))
        self.assertEqual(self.sql("SELECT name FROM pyur_item"), "a")

    def test_two_stacks_of_one_type(self):
        with ur.capture(self.session, "item", 1):
            self.session.add(Item(id=1, name="one"))
            self.session.commit()
        with ur.capture(self.session, "item", 2):
            self.session.add(Item(id=2, name="two"))
            self.session.commit()
        with ur.capture(self.session, "item", 1):
            self.session.get(Item, 1).name = "one'"
            self.session.commit()
        self.assertEqual(ur.status(self.session, "item", 1), (2, 0))
        self.assertEqual(ur.undo(self.session, "item", 2), (0, 1))
        self.assertEqual(self.session.scalars(select(Item.name)).all(), ["one'"])
        self.assertEqual(ur.undo(self.session, "item", 1, steps=5), (0, 2))
        self.assertEqual(self.sql("SELECT count(*) FROM pyur_item"), 0)
        self.assertEqual(ur.redo(self.session, "item", 2), (1, 0))
        self.assertEqual(self.session.scalars(select(Item.name)).all(), ["two"])
        self.assertEqual(ur.status(self.session, "item", 1), (0, 2))

    def test_open_transaction_with_flushed_rows(self):
        self.session.add_all([Item(id=1, name="a"), Item(id=2, name="b")])
        self.session.flush()
        with ur.capture(self.session, "item", 1):
            self.assertEqual(self.scope(), "item:1")
            self.session.execute(update(Item).where(Item.id == 1).values(name="c"))
        # Reset in the open transaction: this update is not captured.
        self.assertEqual(self.scope(), "")
        self.session.execute(update(Item).where(Item.id == 2).values(name="d"))
        self.assertEqual([(h.state, h.changes) for h in ur.history(self.session, "item", 1)],
                         [("undo", 1)])
        self.assertEqual(ur.undo(self.session, "item", 1), (0, 1))
        self.assertEqual(self.session.scalars(select(Item.name).order_by(Item.id)).all(),
                         ["a", "d"])

    def test_commit_inside_block(self):
        with ur.capture(self.session, "item", 1, label="Two commits"):
            self.session.add(Item(id=1, name="a"))
            self.session.commit()
            self.assertEqual(self.scope(), "item:1")  # a new transaction
            self.session.add(Item(id=2, name="b"))
            self.session.commit()
        self.assertFalse(self.scope())
        self.session.add(Item(id=3, name="c"))
        self.session.commit()
        self.assertEqual([(h.label, h.changes) for h in ur.history(self.session, "item", 1)],
                         [("Two commits", 1), ("Two commits", 1)])
        self.assertEqual(ur.undo(self.session, "item", 1), (1, 1))
        self.assertEqual(self.session.scalars(select(Item.id).order_by(Item.id)).all(), [1, 3])

    def test_tracked_before_first_write(self):
        self.assertFalse(self.tracked("pyur_tag"))
        with ur.capture(self.session, "other", 1):
            self.session.execute(insert(Tag), [{"id": 1}, {"id": 2}])
            self.session.add(Item(id=1))
            self.session.flush()
        self.session.commit()
        self.assertTrue(self.tracked("pyur_tag"))
        self.assertEqual([h.changes for h in ur.history(self.session, "other", 1)], [3])

    def test_nested_blocks(self):
        self.session.add(Item(id=1, name="a"))
        self.session.add(Tag(id=1, name="a"))
        self.session.flush()
        with ur.capture(self.session, "item", 1):
            with ur.capture(self.session, "other", 1):
                self.session.get(Tag, 1).name = "b"
                self.session.flush()
            self.assertEqual(self.scope(), "item:1")
            self.session.get(Item, 1).name = "b"
            self.session.flush()
        self.assertEqual(ur.status(self.session, "item", 1), (1, 0))
        self.assertEqual(ur.undo(self.session, "other", 1), (0, 1))
        self.assertEqual((self.session.get(Item, 1).name, self.session.get(Tag, 1).name),
                         ("b", "a"))

    def test_conflict_exception(self):
        # Global step ids grow with other objects' steps; errors name the
        # step by its position in the object's history, with its label.
        for i in (1, 2, 3):
            with ur.capture(self.session, "other", 1):
                self.session.add(Tag(id=i))
                self.session.commit()
        with ur.capture(self.session, "item", 1, label="Create"):
            self.session.add(Item(id=1, name="a"))
            self.session.commit()
        with ur.capture(self.session, "item", 1, label="Rename"):
            self.session.get(Item, 1).name = "b"
            self.session.commit()
        steps = ur.history(self.session, "item", 1)
        self.assertEqual([(h.position, h.label) for h in steps], [(1, "Create"), (2, "Rename")])
        self.assertGreater(steps[1].step, 2)
        with self.engine.begin() as other:
            other.execute(text("UPDATE pyur_item SET name = 'elsewhere'"))
        with self.assertRaises(undoredo.Conflict) as raised:
            ur.undo(self.session, "item", 1)
        c = raised.exception
        self.assertEqual((c.action, c.object_type, c.object_id, c.step, c.label, c.table, c.key),
                         ("undo", "item", 1, 2, "Rename", "pyur_item", "(id)=(1)"))
        self.assertEqual((c.step_id, c.pgcode), (steps[1].step, "UR001"))
        self.assertEqual(str(c), 'cannot undo step 2 ("Rename") of item 1: row (id)=(1) of '
                                 'table "pyur_item" has been changed since')
        self.assertNotIn("step %d" % c.step_id, str(c))
        # The session's transaction is still usable, and after a rollback too.
        self.assertEqual(self.sql("SELECT name FROM pyur_item"), "elsewhere")
        self.assertEqual(ur.status(self.session, "item", 1), (2, 0))
        self.session.rollback()
        self.assertEqual(self.session.get(Item, 1).name, "elsewhere")

    def test_force_for_one_call(self):
        with ur.capture(self.session, "item", 1):
            self.session.add(Item(id=1, name="a"))
            self.session.commit()
        with ur.capture(self.session, "item", 1):
            self.session.get(Item, 1).name = "b"
            self.session.commit()
        with self.engine.begin() as other:
            other.execute(text("UPDATE pyur_item SET name = 'elsewhere'"))
        self.assertEqual(ur.undo(self.session, "item", 1, force=True), (1, 1))
        self.assertEqual(self.session.get(Item, 1).name, "a")
        # Only that call: the transaction's setting is back to error.
        self.assertEqual(self.sql("SELECT current_setting('undoredo.on_conflict')"), "error")
        self.session.commit()
        with self.engine.begin() as other:
            other.execute(text("UPDATE pyur_item SET name = 'again'"))
        with self.assertRaises(undoredo.Conflict):
            ur.redo(self.session, "item", 1)
        self.assertEqual(ur.redo(self.session, "item", 1, force=True), (2, 0))
        self.assertEqual(self.session.get(Item, 1).name, "b")
        self.session.commit()
        self.assertEqual(self.sql("SELECT current_setting('undoredo.on_conflict')"), "error")

    def test_capture_flushes_on_exit(self):
        self.session.add(Item(id=1, name="old"))
        self.session.commit()
        with ur.capture(self.session, "item", 1, label="Rename"):
            self.session.get(Item, 1).name = "new"
        self.session.commit()          # after the block: the block's change
        self.assertEqual([(h.label, h.changes) for h in ur.history(self.session, "item", 1)],
                         [("Rename", 1)])
        self.assertEqual(ur.undo(self.session, "item", 1), (0, 1))
        self.assertEqual(self.session.get(Item, 1).name, "old")

    def test_undo_with_unsaved_changes(self):
        # Refused, touching nothing: flushing them would write them outside
        # the history and undo would take the user's own edit for a conflict.
        with ur.capture(self.session, "item", 1):
            self.session.add(Item(id=1, name="a"))
            self.session.commit()
        item = self.session.get(Item, 1)
        item.name = "unsaved"
        for call in (ur.undo, ur.redo):
            with self.assertRaisesRegex(undoredo.UnsavedChanges,
                                        r"cannot (undo|redo) item 1: the session has unsaved"):
                call(self.session, "item", 1)
        self.assertEqual(item.name, "unsaved")
        self.assertIn(item, self.session.dirty)
        with self.engine.connect() as other:
            self.assertEqual(other.execute(text("SELECT name FROM pyur_item")).scalar(), "a")
        self.session.rollback()
        self.assertEqual(ur.undo(self.session, "item", 1), (0, 1))
        self.session.add(Tag(id=1))
        with self.assertRaises(undoredo.UnsavedChanges):
            ur.redo(self.session, "item", 1)

    def test_orphan_and_its_cascades_captured(self):
        # Removing a child from parent.children deletes it as an orphan, and
        # through its own cascades its notes and tag links, all inside the
        # flush: the tables are tracked before those deletes, undo brings
        # every row back.
        self.session.add_all([Tag(id=1), Tag(id=2)])
        self.session.add(Parent(id=1, children=[Child(id=1), Child(id=2)]))
        self.session.flush()
        child = self.session.get(Child, 1)
        child.notes = [Note(id=1, body="x"), Note(id=2, body="y")]
        child.tags = [self.session.get(Tag, 1), self.session.get(Tag, 2)]
        self.session.commit()
        with ur.capture(self.session, "parent", 1):
            parent = self.session.get(Parent, 1)
            parent.children.remove(self.session.get(Child, 1))
            self.session.commit()
        self.assertEqual(self.sql("SELECT count(*) FROM pyur_note"), 0)
        self.assertEqual(self.sql("SELECT count(*) FROM pyur_child_tag"), 0)
        self.assertEqual(ur.undo(self.session, "parent", 1), (0, 1))
        self.assertEqual(self.sql("SELECT string_agg(body, ',' ORDER BY id) FROM pyur_note"),
                         "x,y")
        self.assertEqual(self.sql("SELECT count(*) FROM pyur_child_tag"), 2)
        self.assertEqual(sorted(c.id for c in self.session.get(Parent, 1).children), [1, 2])

    def test_malformed_scope(self):
        with self.assertRaises(ValueError):
            ur.capture(self.session, "item:x", 1)
        with self.assertRaises(ValueError):
            ur.capture(self.session, "item", "")


if __name__ == "__main__":
    unittest.main()
