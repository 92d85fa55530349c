"""The CSRF token a page's forms carry, signed once rather than on every page.

Flask-WTF signs the browser session's secret token (``session["csrf_token"]``) with
a timestamp for every request that shows a form: a JSON dump, an HMAC and base64,
some 160 calls, as much as a whole page's own rules. A token signed earlier is as
good: it proves the same secret. Liveroom's tokens do not expire
(``WTF_CSRF_TIME_LIMIT`` is None in ``config.py``: they last as long as the
session, so a page left open over lunch still works), so each worker signs a
session's token once and gives it again. Where a deployment sets a time limit,
Flask-WTF checks the token's age when a form comes back, so a kept token is given
again only while it is younger than a sixtieth of that limit (a minute, with an
hour): a form shown at the end of that minute keeps 59 of its 60 minutes.

Only the signed token is kept, under the secret it signs (which never leaves the
cookie session and the browser's forms): a new secret (a new session, a log-out)
is a new key, and the store starts again past ``KEPT`` secrets.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, g, session
from flask_wtf.csrf import generate_csrf

FIELD = "csrf_token"
KEPT = 4096
# Past this share of the time limit a token is signed again.
REUSE_SHARE = 60
# The clock a kept token's age is read on (tests move it).
clock = time.monotonic


def install(app: Flask) -> None:
    """Templates' ``csrf_token()`` becomes ``page_token``. Called after
    ``CSRFProtect.init_app``, whose context processor gives its own: this one runs
    after it, and its answer is the one templates see."""
    app.extensions["liveroom_csrf_tokens"] = {}
    app.jinja_env.globals["csrf_token"] = page_token
    app.context_processor(lambda: {"csrf_token": page_token})


def _reuse_for(app: Flask) -> float:
    limit = app.config.get("WTF_CSRF_TIME_LIMIT", 3600)
    return float("inf") if limit is None else limit / REUSE_SHARE


def page_token() -> str:
    """The signed CSRF token for this request's forms (the same one all request)."""
    token = g.get(FIELD)
    if token is not None:
        return token
    app = current_app._get_current_object()
    secret = session.get(FIELD)
    kept: dict[str, tuple[float, str]] = app.extensions["liveroom_csrf_tokens"]
    now = clock()
    if isinstance(secret, str) and secret in kept:
        signed_at, token = kept[secret]
        if now - signed_at < _reuse_for(app):
            setattr(g, FIELD, token)  # what Flask-WTF's own calls then give
            return token
    token = generate_csrf()
    secret = session[FIELD]  # generate_csrf creates it for a new session
    if len(kept) >= KEPT:
        kept.clear()
    kept[secret] = (now, token)
    return token
