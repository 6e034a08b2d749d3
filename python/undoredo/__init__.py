"""Python integration of the undoredo PostgreSQL extension.

``undoredo.sqlalchemy`` works with any SQLAlchemy session; ``undoredo.flask``
offers the API of the Flask-UndoRedo library on top of it.  The history
itself lives in the database, recorded by the extension's triggers.
"""

try:
    from importlib.metadata import PackageNotFoundError, version as _version
    __version__ = _version("undoredo")   # the extension's version
except PackageNotFoundError:             # imported from a checkout
    __version__ = "unknown"
