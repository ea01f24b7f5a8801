"""Access to the portal services bound to the running Flask app."""

from flask import current_app

from app.services import Portal


def portal() -> Portal:
    return current_app.extensions["portal"]
