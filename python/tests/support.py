"""Shared set-up of the tests: the database named by the PG* environment
variables (an empty psycopg2 URL lets libpq read them), the extension, and
a clean-up that drops the tests' tables and forgets their histories.

Imported first by every test module: a directory holding the extension's
built library (undoredo.so, in the repository's root) on sys.path would be
imported as the module undoredo, so such entries are removed here.  When
the package is not installed, the checkout's python/ is used.
"""
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path
               if not os.path.exists(os.path.join(os.path.abspath(p or os.curdir), "undoredo.so"))]
if "undoredo" in sys.modules and not hasattr(sys.modules["undoredo"], "__path__"):
    raise ImportError("undoredo was imported from %s, the extension's library, not the "
                      "Python package" % sys.modules["undoredo"].__file__)
try:
    import undoredo  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(_here))

import unittest  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

URL = "postgresql+psycopg2://"


def make_engine(**connect_args):
    engine = create_engine(URL, future=True, connect_args=connect_args)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS undoredo"))
    return engine


def scalar(session, sql, **params):
    return session.execute(text(sql), params).scalar()


def clean_up(engine, metadata, scopes):
    """Drop the tables of metadata and clear the histories of scopes
    [(object_type, object_id)], in a connection of its own (callers close
    their sessions first: an open transaction may hold a scope's lock).
    Tests call it before they start too, so that what another suite or an
    interrupted run left behind cannot change their counts."""
    with engine.begin() as conn:
        for object_type, object_id in scopes:
            conn.execute(text("SELECT undoredo_clear(:t, CAST(:i AS text))"),
                         {"t": object_type, "i": str(object_id)})
        metadata.drop_all(conn)


class SessionTest(unittest.TestCase):
    """A test with an engine of its class, a Session of its own, and the
    tables of ``metadata`` created before and dropped after it, with the
    histories of ``scopes`` cleared."""
    metadata = None
    scopes = ()

    @classmethod
    def setUpClass(cls):
        cls.engine = make_engine()
        cls.Session = sessionmaker(bind=cls.engine, future=True)

    @classmethod
    def tearDownClass(cls):
        cls.engine.dispose()

    def setUp(self):
        clean_up(self.engine, self.metadata, self.scopes)
        self.metadata.create_all(self.engine)
        self.session = self.Session()
        self.addCleanup(self.clean_up)

    def clean_up(self):
        self.session.close()
        clean_up(self.engine, self.metadata, self.scopes)

    def sql(self, query, **params):
        return scalar(self.session, query, **params)
