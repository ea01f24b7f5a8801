"""Access to the portal services bound to the running Flask app, for the page modules."""

from app.api.context import portal

__all__ = ["portal"]
