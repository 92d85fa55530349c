"""LTI 1.3: Liveroom as a tool inside a school's learning platform (Moodle, Canvas).

A launch from a course signs the person in (an account on their first launch), finds
or makes the course's channel, gives them the channel role their LTI roles map to,
and lands on the channel's live room. The protocol is pylti1p3's
(``liveroom/lti/launch.py``); the platforms are registered by an admin
(``liveroom/admin/lti.py``). The views are ``routes.py``; the rules are plain
functions: ``roles.py`` (LTI roles to a channel role), ``courses.py`` (a course's
channel), ``platforms.py`` (registrations and the pages' frame ancestors),
``keys.py`` (the tool's key and JWKS), ``frames.py`` (cookies inside the frame).
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("lti", __name__, url_prefix="/lti")


def register(app: Flask) -> None:
    """Attach the views to the blueprint and the blueprint to the app; the platform
    posts to the login initiation and the launch from its own site, without our CSRF
    token (the OIDC state and nonce protect them instead)."""
    from liveroom.extensions import csrf
    from liveroom.lti import frames, routes

    csrf.exempt(routes.login)
    csrf.exempt(routes.launch)
    app.register_blueprint(bp)
    frames.init_app(app)
