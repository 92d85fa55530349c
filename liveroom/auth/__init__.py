"""Signing in and out: the blueprint is defined here and ``routes.py`` imports it.

Login sessions on the server are ``sessions.py``, password hashing ``passwords.py``,
log-in throttling ``throttle.py``.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("auth", __name__)


def register(app: Flask) -> None:
    """Attach the views to the blueprint and the blueprint to the app.

    The route modules are imported when the app is built, not at the bottom of this
    file: the live hub imports ``auth.sessions``, which must not bring the log-in
    views with it.
    """
    from liveroom.auth import account, live_room, oidc, routes  # noqa: F401  (views attach to bp)

    oidc.init_app(app)  # Authlib's client for each OpenID Connect provider
    app.register_blueprint(bp)
