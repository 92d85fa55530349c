"""Liveroom inside a learning platform's frame.

A page framed by Moodle is on another site than the page around it, so browsers send
its cookies only if they say ``SameSite=None; Secure``; with third-party cookies
blocked (Chrome's setting, for one) only if they are ``Partitioned`` too (kept for
this one platform's pages alone). So once a platform is registered and the site is
served over HTTPS (``LIVEROOM_SECURE_COOKIES=1``), the session cookie (which carries
the CSRF token as well) is ``SameSite=None; Secure; Partitioned``. The page's HTMX
requests and its event stream go to its own origin and carry it. Without HTTPS the
cookie stays ``Lax``: a browser refuses ``SameSite=None`` on a cookie that is not
``Secure``, and Liveroom works in a new window only.

Which sites may frame the pages: the registered platforms' origins (the CSP's
``frame-ancestors``), for every HTML page once any is registered, else none.

Some browsers keep even partitioned cookies from a frame (Safari). The login
initiation checks that a cookie comes back before it goes on (``COOKIE_CHECK``):
when none does, the page offers "Open in a new window", where the same launch runs
with the platform's site around it no more.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

COOKIE_CHECK = "liveroom-lti-check"


def serving_frames() -> bool:
    """The session cookie must work inside a platform's frame: HTTPS, and a platform."""
    if not current_app.config.get("SESSION_COOKIE_SECURE") or not has_request_context():
        return False
    return bool(ancestors())


def ancestors() -> tuple[str, ...]:
    from liveroom.lti.platforms import frame_origins

    try:
        return frame_origins()
    except SQLAlchemyError:  # the database is down: the error page needs no frame
        log.warning("frame ancestors unknown: the database did not answer")
        return ()


class FrameSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the frame's cookie attributes when needed."""

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "None" if serving_frames() else super().get_cookie_samesite(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return True if serving_frames() else super().get_cookie_partitioned(app)


def cookie_options() -> dict:
    """The attributes of the LTI cookies (the state, the cookie check)."""
    if request.is_secure or current_app.config.get("SESSION_COOKIE_SECURE"):
        return {"secure": True, "samesite": "None", "partitioned": True, "httponly": True}
    return {"samesite": "Lax", "httponly": True}


def with_frame_ancestors(policy: str, response: Response) -> str:
    """The Content-Security-Policy of an HTML page, framable by the platforms."""
    if response.mimetype != "text/html" or "frame-ancestors 'none'" not in policy:
        return policy
    origins = ancestors()
    if not origins:
        return policy
    return policy.replace("frame-ancestors 'none'", "frame-ancestors " + " ".join(origins))


def init_app(app: Flask) -> None:
    app.session_interface = FrameSessionInterface()
