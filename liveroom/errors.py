"""Readable error pages, and error fragments for HTMX requests.

Every handler rolls the database session back first: a request that failed half-way
through a transaction (two Join clicks racing for one row, say) leaves the session
unusable, and the error page itself reads the database (the menu, the settings). When
even that page cannot be rendered, a fixed page goes out instead, so the person still
gets a readable answer with the app's security headers, never a bare server error.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, Response, make_response, render_template, request, url_for
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError

from liveroom.extensions import db, login
from liveroom.i18n import N_
from liveroom.request_log import current_request_id
from liveroom.templating import wants_fragment

log = logging.getLogger(__name__)

# Marked with N_ and translated as a page is answered (``title_and_message``).
MESSAGES = {
    400: (N_("Bad request"), N_("The request could not be understood.")),
    401: (N_("Please log in"), N_("Log in to continue.")),
    403: (N_("Not allowed"), N_("You don't have permission to do that.")),
    404: (N_("Not found"), N_("There is nothing at this address.")),
    405: (N_("Not allowed"), N_("That action is not available here.")),
    408: (
        N_("Too slow"),
        N_("Your request took too long to arrive. Check your connection and try again."),
    ),
    413: (N_("Too large"), N_("This request is too large.")),
    422: (N_("Cannot do that"), N_("The request could not be processed.")),
    429: (
        N_("Too many requests"),
        N_("You are doing that too often. Wait a moment and try again."),
    ),
    500: (N_("Something went wrong"), N_("The server hit a problem. Please try again.")),
    503: (N_("Unavailable"), N_("The service is unavailable right now. Please try again shortly.")),
}

# The last resort: no template, no database, nothing that can fail.
FALLBACK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Liveroom</title>
<link rel="stylesheet" href="/static/css/liveroom.css"></head>
<body><main id="main" class="page"><section class="card card--narrow">
<p class="muted">Error {status}</p><h1>{title}</h1><p>{message}</p>
<p><a class="button" href="/">Go to your channels</a></p>{reference}</section></main></body></html>
"""
# The request's id (liveroom/request_log.py), small, for a teacher to quote.
FALLBACK_REFERENCE = '<p class="hint">Reference: <code class="reference">{id}</code></p>'


def rollback_session() -> None:
    """Forget the failed request's transaction so the error page can use the database."""
    try:
        db.session.rollback()
    except Exception:  # the connection itself may be gone; the fallback page copes
        log.exception("rolling the session back after an error failed")


def title_and_message(status: int, message: str | None) -> tuple[str, str]:
    """The page's title and sentence in the request's language. A view's own message
    (``abort(403, _("…"))``) comes translated already; the defaults and the messages
    defined once (marked ``N_``) are translated here."""
    title, default = MESSAGES.get(status, MESSAGES[400] if status < 500 else MESSAGES[500])
    return translated(title), translated(message or default)


def translated(message: str) -> str:
    """``message`` in the request's language; as it is when even that fails (the
    fixed page's last resort: the language is read from the database)."""
    try:
        return gettext(message)
    except Exception:
        return message


def render_error(status: int, message: str | None = None) -> Response:
    rollback_session()
    title, text = title_and_message(status, message)
    if request.accept_mimetypes.best == "text/plain":
        # A page's script (the media controls) shows the sentence as it is.
        return Response(text, status, mimetype="text/plain")
    template = "errors/_error.html" if wants_fragment() else "errors/error.html"
    body = render_template(
        template, status=status, title=title, message=text, reference=current_request_id()
    )
    return make_response(body, status)


def fallback_page(status: int, message: str | None = None) -> Response:
    """The error page without templates, carrying the security headers by itself."""
    from liveroom import apply_security_headers

    title, text = title_and_message(status, message)
    reference = current_request_id()
    body = FALLBACK_PAGE.format(
        status=status,
        title=escape(title),
        message=escape(text),
        reference=FALLBACK_REFERENCE.format(id=escape(reference)) if reference else "",
    )
    response = Response(body, status, mimetype="text/html")
    apply_security_headers(response)
    return response


def error_page(status: int, message: str | None = None) -> Response:
    """The app's error page, or the fixed one when rendering fails too."""
    try:
        return render_error(status, message)
    except Exception:
        log.exception("the error page could not be rendered; sending the fixed one")
        rollback_session()
        return fallback_page(status, message)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        return error_page(400, N_("This form has expired. Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code is None or error.code < 400:
            return error
        # abort(403, "reason") carries a message meant for the user.
        custom = error.description if error.description != type(error).description else None
        return error_page(error.code, custom)

    @app.errorhandler(sa.exc.TimeoutError)
    def no_connection_free(error: sa.exc.TimeoutError) -> Response:
        # Every database connection of this worker stayed busy for the pool's whole
        # timeout: the server is overloaded, not broken. Say so and when to come back
        # (a page's stream tries again by itself), rather than a server error.
        log.warning("no database connection free in time; answering 503: %s", error)
        rollback_session()
        # The plain page: the full one would ask the database (who is signed in) again.
        response = fallback_page(
            503, N_("The server is very busy right now. Please try again in a moment.")
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> Response:
        # Unhandled exceptions arrive here wrapped; Flask has logged them already (on
        # the request's own line: liveroom/request_log.py), never on the page.
        return error_page(500)


@login.unauthorized_handler
def unauthorized() -> Response:
    target = url_for("auth.login_page", next=request.full_path.rstrip("?"))
    if request.htmx:
        # Send the whole browser tab to the login page, not a fragment.
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return make_response("", 302, {"Location": target})
