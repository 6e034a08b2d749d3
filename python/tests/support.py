"""Shared set-up of the tests: the database named by the PG* environment
variables (an empty psycopg2 URL lets libpq read them), the extension, and
a clean-up that drops the tests' tables and forgets their histories."""
from sqlalchemy import create_engine, text

URL = "postgresql+psycopg2://"


def make_engine():
    engine = create_engine(URL, future=True)
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
