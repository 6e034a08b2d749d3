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

from sqlalchemy import create_engine, text  # noqa: E402

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
