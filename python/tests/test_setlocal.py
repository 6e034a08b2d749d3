"""How undoredo.sqlalchemy sets its settings: with SET LOCAL statements.

On Citus, a SET LOCAL statement is sent on to the workers (with
citus.propagate_set_commands = 'local'), set_config(..., true) is not, so
the package must never set undoredo.scope, .label, .actor or .on_conflict
with set_config.  SET takes no bind parameters: the values are quoted into
the statement, and must come back exactly (current_setting) whatever they
hold and whatever standard_conforming_strings is.

Runs against the server named by the PG* variables.
"""
import support  # first: keeps a built undoredo.so off sys.path

import re

from sqlalchemy import Column, Integer, MetaData, String, event, text
from sqlalchemy.orm import declarative_base

from undoredo import sqlalchemy as ur

Base = declarative_base(metadata=MetaData())


class Para(Base):
    __tablename__ = "pyurset_para"
    id = Column(Integer, primary_key=True)
    body = Column(String)


# Values that a naive quoting gets wrong: quotes, backslashes (read as
# escapes with standard_conforming_strings off), dollar signs (dollar
# quoting's tags, the package's own among them), what SQLAlchemy's text()
# or the driver would take for parameters, non-ASCII text.
AWKWARD = [
    "it's",
    "two '' quotes and a trailing '",
    "back\\slash \\' and \\\\ and a trailing \\",
    "E'\\x41'",
    "dollar $ and $$ and $1 and $tag$",
    "$undoredo$ inside, $undoredo1$ too",
    "ends with $undoredo",
    "ends with $undoredo$",
    "$undoredo",
    "$",
    "percent % and %s and %(x)s, colon :name and ::text",
    "Gr\u00f6\u00dfe \u2014 \u6587\u66f8 \u2713 \U0001F600",
    "line\nbreak\ttab",
    "; SELECT 1; --",
]

SCOPES = [("doc", 1)] + [("doc", v) for v in AWKWARD]


class SetLocalTest(support.SessionTest):
    metadata = Base.metadata
    scopes = SCOPES

    def setUp(self):
        super().setUp()
        self.statements = []

        def log(conn, cursor, statement, parameters, context, executemany):
            self.statements.append(statement)
        event.listen(self.engine, "before_cursor_execute", log)
        self.addCleanup(event.remove, self.engine, "before_cursor_execute", log)

    def setting(self, name):
        return support.scalar(self.session, "SELECT pg_catalog.current_setting(:n)", n=name)

    def sets(self, name):
        """The SET LOCAL statements of the log that set ``name``."""
        return [s for s in self.statements
                if re.match(r"SET LOCAL %s = " % re.escape(name), s)]

    def step(self, body, label, actor):
        with ur.capture(self.session, "doc", 1, label=label, actor=actor):
            self.session.merge(Para(id=1, body=body))
            self.session.commit()

    def test_settings_are_set_by_set_local_statements(self):
        self.step("v1", "Write", "alice")
        self.step("v2", "Rewrite", "bob")
        # A write outside the history: undo only goes through with force.
        self.session.execute(text("UPDATE pyurset_para SET body = 'outside'"))
        self.session.commit()
        self.assertEqual(ur.undo(self.session, "doc", 1, force=True), (1, 1))
        edit = ur.history(self.session, "doc", 1)[0].step
        ur.revert(self.session, "doc", 1, edit, force=True, actor="carol", label="Take back")
        self.session.commit()
        for name in ("undoredo.scope", "undoredo.label", "undoredo.actor",
                     "undoredo.on_conflict"):
            self.assertTrue(self.sets(name), "no SET LOCAL of %s in %r" % (name, self.statements))
        self.assertEqual([s for s in self.statements if "set_config" in s.lower()], [])
        # What the statements set is what the steps recorded.
        self.assertEqual([(h.label, h.actor) for h in ur.history(self.session, "doc", 1)],
                         [("Write", "alice"), ("Rewrite", "bob"), ("Take back", "carol")])

    def test_values_round_trip(self):
        for scs in ("on", "off"):
            for value in AWKWARD:
                with self.subTest(standard_conforming_strings=scs, value=value):
                    self.session.execute(text("SET LOCAL standard_conforming_strings = " + scs))
                    with ur.capture(self.session, "doc", value, label=value, actor=value):
                        self.assertEqual(self.setting("standard_conforming_strings"), scs)
                        self.assertEqual(self.setting("undoredo.scope"), "doc:" + value)
                        self.assertEqual(self.setting("undoredo.label"), value)
                        self.assertEqual(self.setting("undoredo.actor"), value)
                    self.assertEqual(self.setting("undoredo.scope"), "")
                    self.session.rollback()

    def test_values_recorded_and_put_back(self):
        """A step records the awkward label and actor exactly, and a revert
        with its own label and actor puts the block's back (SET LOCAL
        outlives the savepoint) exactly, in both string modes."""
        self.step("v1", "Write", "alice")
        edit = ur.history(self.session, "doc", 1)[0].step
        self.session.commit()
        for scs in ("on", "off"):
            for value in AWKWARD:
                with self.subTest(standard_conforming_strings=scs, value=value):
                    self.session.execute(text("SET LOCAL standard_conforming_strings = " + scs))
                    with ur.capture(self.session, "doc", 1, label=value, actor=value):
                        ur.revert(self.session, "doc", 1, edit, actor=value + "!",
                                  label="Revert " + value, force=True)
                        self.assertEqual(self.setting("undoredo.label"), value)
                        self.assertEqual(self.setting("undoredo.actor"), value)
                        self.assertEqual(self.setting("undoredo.on_conflict"), "error")
                    last = ur.history(self.session, "doc", 1)[-1]
                    self.assertEqual((last.label, last.actor, last.reverts),
                                     ("Revert " + value, value + "!", edit))
                    self.session.rollback()

    def test_literal_tag_is_not_in_the_value(self):
        for value in AWKWARD + ["", "$undoredo$$undoredo1$$undoredo2$"]:
            with self.subTest(value=value):
                quoted = ur._literal(value)
                tag = quoted[:quoted.index("$", 1) + 1]
                self.assertEqual(quoted, tag + value + tag)
                self.assertEqual((value + tag).find(tag), len(value))
                self.assertEqual(self.session.connection().exec_driver_sql(
                    "SELECT " + quoted, execution_options={"no_parameters": True}).scalar(),
                    value)
        self.assertRaises(TypeError, ur._literal, 42)
