"""Python integration of the undoredo PostgreSQL extension.

``undoredo.sqlalchemy`` works with any SQLAlchemy session; ``undoredo.flask``
offers the API of the Flask-UndoRedo library on top of it.  The history
itself lives in the database, recorded by the extension's triggers.
"""

__version__ = "1.0.0"
