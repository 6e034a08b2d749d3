"""Tracking decided at start-up: undoredo.sqlalchemy.track_tables.

Each test uses an engine of its own (what track_tables declares is per
engine) and tables never tracked before.  Runs against the server named by
the PG* variables.
"""
import support  # first: keeps a built undoredo.so off sys.path

import unittest

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import declarative_base, relationship, sessionmaker

import undoredo
from undoredo import sqlalchemy as ur

Base = declarative_base(metadata=MetaData())

paragraph_label = Table("pyst_paragraph_label", Base.metadata,
                        Column("paragraph_id", ForeignKey("pyst_paragraph.id"), primary_key=True),
                        Column("label_id", ForeignKey("pyst_label.id"), primary_key=True))


class Doc(Base):
    __tablename__ = "pyst_doc"
    id = Column(Integer, primary_key=True)
    paragraphs = relationship("Paragraph", cascade="all, delete-orphan")


class Paragraph(Base):
    __tablename__ = "pyst_paragraph"
    id = Column(Integer, primary_key=True)
    kind = Column(String)
    doc_id = Column(ForeignKey("pyst_doc.id"), nullable=False)
    comments = relationship("Comment", cascade="all, delete-orphan")
    labels = relationship("Label", secondary=paragraph_label)
    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "text"}


class Figure(Paragraph):                 # joined-table inheritance
    __tablename__ = "pyst_figure"
    id = Column(ForeignKey("pyst_paragraph.id"), primary_key=True)
    caption = Column(String)
    __mapper_args__ = {"polymorphic_identity": "figure"}


class Comment(Base):
    __tablename__ = "pyst_comment"
    id = Column(Integer, primary_key=True)
    paragraph_id = Column(ForeignKey("pyst_paragraph.id"), nullable=False)


class Label(Base):
    __tablename__ = "pyst_label"
    id = Column(Integer, primary_key=True)


# Written only by the database's ON DELETE CASCADE, mapped by no class.
revision = Table("pyst_revision", Base.metadata,
                 Column("id", Integer, primary_key=True),
                 Column("comment_id", ForeignKey("pyst_comment.id", ondelete="CASCADE")))

# An association table without a primary key.
keyless = MetaData()
Table("pyst_keyless", keyless, Column("a", Integer), Column("b", Integer))
Table("pyst_keyed", keyless, Column("id", Integer, primary_key=True))

EVERY = ["pyst_comment", "pyst_doc", "pyst_figure", "pyst_paragraph", "pyst_paragraph_label",
         "pyst_revision"]


class StartupTest(unittest.TestCase):
    def setUp(self):
        self.engine = support.make_engine()
        self.scopes = [("doc", 1)]
        support.clean_up(self.engine, Base.metadata, self.scopes)
        support.clean_up(self.engine, keyless, [])
        Base.metadata.create_all(self.engine)
        self.session = sessionmaker(bind=self.engine, future=True)()
        self.addCleanup(self.clean_up)

    def clean_up(self):
        self.session.close()
        support.clean_up(self.engine, Base.metadata, self.scopes)
        support.clean_up(self.engine, keyless, [])
        self.engine.dispose()

    def sql(self, query, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(query), params).scalar()

    def tracked(self):
        """The tracked tables, in the order they were tracked."""
        return self.sql("SELECT array_agg(CAST(tgrelid AS regclass)::text ORDER BY oid)"
                        " FROM pg_catalog.pg_trigger"
                        " WHERE tgname = 'undoredo_capture' AND NOT tgisinternal"
                        " AND CAST(tgrelid AS regclass)::text LIKE 'pyst%'") or []

    def test_models_and_what_they_reach(self):
        # Doc reaches its paragraphs (delete-orphan), their subclass table,
        # comments and association table, and the table the database
        # cascades into from comments; not Label, which no cascade writes.
        self.assertEqual(ur.track_tables(self.engine, Doc), EVERY)
        # Tracked in schema and name order, whatever the models' order.
        self.assertEqual(self.tracked(), EVERY)
        # Again: nothing to do, nothing changes.
        self.assertEqual(ur.track_tables(self.engine, [Comment, Doc]), EVERY)
        self.assertEqual(self.tracked(), EVERY)

    def test_metadata(self):
        ur.track_tables(self.engine, Base.metadata)
        self.assertEqual(self.tracked(), sorted(EVERY + ["pyst_label"]))

    def test_untracked_write_is_an_error(self):
        ur.track_tables(self.engine, Doc)
        with ur.capture(self.session, "doc", 1):
            self.session.add(Doc(id=1, paragraphs=[Paragraph(id=1, comments=[Comment(id=1)])]))
            self.session.commit()
        # Label is not tracked: the flush fails naming it, before writing.
        with self.assertRaisesRegex(undoredo.NotTracked,
                                    r'^cannot write under an undoredo scope to table "pyst_label"'
                                    r': not tracked') as raised:
            with ur.capture(self.session, "doc", 1):
                self.session.add(Label(id=1))
        self.assertEqual(raised.exception.tables, ["pyst_label"])
        self.session.rollback()
        self.assertEqual(self.sql("SELECT count(*) FROM pyst_label"), 0)
        self.assertNotIn("pyst_label", self.tracked())
        # Outside a scope nothing is checked; the session works on.
        self.session.add(Label(id=1))
        self.session.commit()
        self.assertEqual(ur.undo(self.session, "doc", 1), (0, 1))
        self.session.commit()
        self.assertEqual(self.sql("SELECT count(*) FROM pyst_comment"), 0)

    def test_untracked_cascade_target_is_an_error(self):
        # A migration tracked pyst_comment but not the table the database
        # cascades into from it; start-up declared tracking for Label only.
        # Deleting a comment would lose its revisions: refused, naming them.
        with self.engine.begin() as conn:
            conn.execute(text("SELECT undoredo_track('pyst_comment')"))
        ur.track_tables(self.engine, Label)
        self.session.add(Doc(id=1, paragraphs=[Paragraph(id=1, comments=[Comment(id=1)])]))
        self.session.flush()
        self.session.execute(revision.insert().values(id=1, comment_id=1))
        self.session.commit()
        with self.assertRaises(undoredo.NotTracked) as raised:
            with ur.capture(self.session, "doc", 1):
                self.session.delete(self.session.get(Comment, 1))
        self.assertEqual(raised.exception.tables, ["pyst_revision"])
        self.session.rollback()
        self.assertEqual(self.sql("SELECT count(*) FROM pyst_revision"), 1)

    def test_missing_primary_key(self):
        keyless.create_all(self.engine)
        with self.assertRaisesRegex(undoredo.MissingPrimaryKey,
                                    r'^cannot track table "pyst_keyless": no primary key$'):
            ur.track_tables(self.engine, keyless)
        self.assertEqual(self.tracked(), [])   # nothing, not even pyst_keyed

    def test_role_without_trigger_privilege(self):
        # A migration (a superuser) tracked the tables; the application's
        # role, without TRIGGER, checks them at start-up and captures.
        with self.engine.begin() as conn:
            conn.execute(text("DROP ROLE IF EXISTS pyst_app"))
            # with a password: make test's server authenticates TCP
            # connections by password
            conn.execute(text("CREATE ROLE pyst_app LOGIN PASSWORD 'pyst_app'"))
            conn.execute(text("GRANT SELECT, INSERT, UPDATE, DELETE ON %s, pyst_label TO pyst_app"
                              % ", ".join(EVERY)))
        self.addCleanup(self.drop_role)
        with self.engine.begin() as conn:
            ur.track_tables(conn, Doc)          # as op.get_bind() in a migration
        app = support.make_engine(user="pyst_app", password="pyst_app")
        self.addCleanup(app.dispose)
        self.assertEqual(ur.track_tables(app, Doc), EVERY)
        with self.assertRaisesRegex(ProgrammingError, "permission denied for table pyst_label"):
            ur.track_tables(app, Label)
        session = sessionmaker(bind=app, future=True)()
        with ur.capture(session, "doc", 1):
            session.add(Doc(id=1, paragraphs=[Paragraph(id=1)]))
            session.commit()
        self.assertEqual(ur.undo(session, "doc", 1), (0, 1))
        session.commit()
        session.close()

    def drop_role(self):
        support.clean_up(self.engine, Base.metadata, self.scopes)
        with self.engine.begin() as conn:
            conn.execute(text("DROP ROLE IF EXISTS pyst_app"))


if __name__ == "__main__":
    unittest.main()
