"""Request bodies: refused when too large before a byte is read, and cut off when slow.

A body bigger than ``MAX_CONTENT_LENGTH`` (1 MB; ``LIVEROOM_MAX_UPLOAD_LENGTH`` for a
view marked with :func:`accepts_upload`) gets a readable 413 from the Content-Length
header alone, so an anonymous 200 MB post costs the worker nothing. A chunked body
with no length is cut off by Werkzeug's limited stream at the same limit.

A body that has not fully arrived within ``LIVEROOM_BODY_TIMEOUT`` seconds (10) gets a
408. Under gunicorn's gevent workers a slow client holds only its greenlet, but it
would hold it forever: a ``gevent.Timeout`` around every read of ``wsgi.input`` ends
it. After a 408 or 413 the server stops writing to the connection (a FIN after the
answer), so the client learns at once that nothing more will be read.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from flask import Flask, abort, current_app, request
from flask_babel import format_decimal, gettext
from werkzeug.exceptions import RequestTimeout
from werkzeug.wsgi import ClosingIterator

from liveroom.i18n import N_

View = TypeVar("View", bound=Callable[..., Any])
MB = 1024 * 1024


class BodyTimeout(RequestTimeout):
    # Translated as the error page is answered (liveroom/errors.py).
    description = N_("Your request took too long to arrive. Check your connection and try again.")


def accepts_upload(view: View) -> View:
    """Let ``view`` take bodies up to ``LIVEROOM_MAX_UPLOAD_LENGTH`` (a CSV import)."""
    view.accepts_upload = True  # type: ignore[attr-defined]
    return view


def body_limit() -> int | None:
    """The largest body the matched view accepts."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, "accepts_upload", False):
        return current_app.config["LIVEROOM_MAX_UPLOAD_LENGTH"]
    return current_app.config.get("MAX_CONTENT_LENGTH")


def _size(n: int) -> str:
    if n >= MB:
        return gettext("%(size)s MB", size=format_decimal(n / MB, format="0.0"))
    return gettext("%(size)s kB", size=format_decimal(max(1, n // 1024)))


def refuse_large_bodies() -> None:
    """Answer 413 from the Content-Length header, before anything reads the body.

    Runs first among the before-request hooks: the CSRF check reads the form, and it
    must read it under this view's limit, not the default one.
    """
    limit = body_limit()
    request.max_content_length = limit
    length = request.content_length
    if limit is not None and length is not None and length > limit:
        abort(
            413,
            gettext(
                "This request is too large (%(size)s); the limit is %(limit)s.",
                size=_size(length),
                limit=_size(limit),
            ),
        )


class _TimedInput:
    """``wsgi.input`` whose reads must all finish before one deadline."""

    def __init__(self, stream: Any, deadline: float) -> None:
        self._stream = stream
        self._deadline = deadline

    def _timed(self, read: Callable[..., Any], *args: Any) -> Any:
        import gevent

        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise BodyTimeout()
        timer = gevent.Timeout(remaining)
        timer.start()
        try:
            return read(*args)
        except gevent.Timeout as expired:
            if expired is not timer:
                raise
            raise BodyTimeout() from None
        finally:
            timer.close()

    def read(self, *args: Any) -> bytes:
        return self._timed(self._stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._timed(self._stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._timed(self._stream.readlines, *args)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line


def _gevent_active() -> bool:
    """Only a cooperative socket can be interrupted by a gevent timer."""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("socket")


class BodyGuard:
    """WSGI middleware: a deadline on reading the body, and no keep-alive after 408/413."""

    def __init__(self, app: Callable, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if _gevent_active() and environ.get("wsgi.input") is not None:
            environ["wsgi.input"] = _TimedInput(
                environ["wsgi.input"], time.monotonic() + self.timeout
            )
        refused: list[bool] = []

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            if status[:3] in ("408", "413"):
                refused.append(True)
            return start_response(status, headers, exc_info)

        def stop_writing() -> None:
            # The unread body is the client's problem now: a FIN tells it so, and
            # gunicorn stops draining the rest when the client closes its side.
            sock = environ.get("gunicorn.socket")
            if refused and sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)

        return ClosingIterator(self.app(environ, start), stop_writing)


def install(app: Flask) -> None:
    """Size check first among the before-request hooks; the deadline around the app."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_large_bodies)
    app.wsgi_app = BodyGuard(app.wsgi_app, app.config["LIVEROOM_BODY_TIMEOUT"])  # type: ignore[method-assign]
