"""Readable error pages, and error fragments for HTMX requests."""

from __future__ import annotations

from flask import Flask, Response, make_response, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from liveroom.extensions import login
from liveroom.templating import wants_fragment

MESSAGES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Please log in", "Log in to continue."),
    403: ("Not allowed", "You don't have permission to do that."),
    404: ("Not found", "There is nothing at this address."),
    405: ("Not allowed", "That action is not available here."),
    500: ("Something went wrong", "The server hit a problem. Please try again."),
}


def render_error(status: int, message: str | None = None) -> Response:
    title, default = MESSAGES.get(status, MESSAGES[500])
    template = "errors/_error.html" if wants_fragment() else "errors/error.html"
    body = render_template(template, status=status, title=title, message=message or default)
    return make_response(body, status)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        return render_error(400, "This form has expired. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if error.code is None or error.code < 400:
            return error
        # abort(403, "reason") carries a message meant for the user.
        custom = error.description if error.description != type(error).description else None
        return render_error(error.code, custom)


@login.unauthorized_handler
def unauthorized() -> Response:
    target = url_for("auth.login_page", next=request.full_path.rstrip("?"))
    if request.htmx:
        # Send the whole browser tab to the login page, not a fragment.
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return make_response("", 302, {"Location": target})
