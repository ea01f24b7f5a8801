"""WSGI entry point for gunicorn: ``gunicorn app.wsgi:app``."""

from app import create_app

app = create_app()
app.extensions["portal"].warm_up()  # before gunicorn hands this worker its first request
