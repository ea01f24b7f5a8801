"""The Cat Lai specialized inspection portal: a Flask app running the procedure as BPMN on SpiffWorkflow.

``create_app`` builds the web application; the worker (``app.worker``) and the CLI (``app.cli``) build
the same services through ``app.services.build_portal``.
"""

from __future__ import annotations


def create_app(settings=None, portal=None):
    """Build the Flask application (no global app is created at import time)."""
    import secrets

    from flask import Flask

    from app.services import build_portal
    from app.settings import Settings

    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        # Forms with attachments may be larger than API bodies; the API lowers the limit per request.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes * settings.max_uploads_per_form + 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
    )
    app.extensions["portal"] = portal or build_portal(settings)

    from app.url_ids import bound_row_ids

    bound_row_ids(app)  # before any route is added
    from app.api import bp as api_bp

    app.register_blueprint(api_bp)

    from app.web import init_web

    init_web(app)

    from app.cpu_probe import probe_for

    probe = probe_for(app.extensions["portal"].settings.cpu_probe_dir)
    if probe is not None:
        app.wsgi_app = probe.timed_requests(app.wsgi_app)  # type: ignore[method-assign]
    return app
