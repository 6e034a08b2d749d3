"""A realistic Flask-SQLAlchemy editor (app.py) and its tests through the
Flask test client (test_realapp.py)."""
