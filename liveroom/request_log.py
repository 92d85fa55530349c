"""One log line per request, on stdout, and a request id that follows it everywhere.

A WSGI middleware (``RequestLog``, inside ProxyFix so it sees the client's address)
gives every request an id: the incoming ``X-Request-Id`` when it is a safe short token
(nginx's ``$request_id`` is 32 hex digits), a new one otherwise, never arbitrary input
echoed back. The id goes out in the ``X-Request-Id`` header of every answer (error
pages, 404, 429, streams, the body guard's 408/413 too) and on the error pages, for a
teacher to quote. When the answer's status line is handed to the server (for a
Server-Sent Events stream: when the stream starts, so ``ms`` is the time to the first
byte) one line goes to the ``liveroom.request`` logger: time, level, method, path
(without the query string: it may carry tokens), status, ms, user (the id of whoever
the request signed in, or null), remote address, worker pid, request id. A stream
logs a second line when it closes (``"event": "stream_closed"``, with its length),
through the close callback the response has anyway: nothing per message, nothing
kept per open stream but that callback.

An exception that became a 500 is not logged on its own by Flask here: its text and
traceback ride on that request's line (fields ``error`` and ``traceback``), so the
whole story is one JSON line with the id, and nothing of it reaches the page.

``LIVEROOM_LOG_FORMAT``: ``json`` (the default) or ``text`` (the default for the
debug server: one readable line). ``LIVEROOM_LOG_LEVEL``: ``INFO`` by default; 5xx
lines are ``ERROR``, so ``WARNING`` keeps only those. The cost per request is kept
small on purpose (the pages are benchmarked by function calls per request): the
logger is looked up once, the line is a dict dumped once, the formatter is made once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from random import getrandbits
from typing import Any

from flask import Flask
from flask.globals import _cv_app, _cv_request

log = logging.getLogger("liveroom.request")

HEADER = "X-Request-Id"
ENVIRON_KEY = "liveroom.request_id"
_ERROR_KEY = "liveroom.request_error"
# Letters, digits and hyphens, 16 to 64 of them: nginx's $request_id (32 hex), UUIDs,
# most load balancers' ids. Anything else is replaced, never echoed.
_SAFE_ID = re.compile(r"[0-9A-Za-z-]{16,64}")
_PID = os.getpid()


def _forked() -> None:
    global _PID
    _PID = os.getpid()


# gunicorn may import the app before it forks the workers: each line names its worker.
os.register_at_fork(after_in_child=_forked)


def new_request_id() -> str:
    """32 hex digits, like nginx's $request_id (not a secret: only unique)."""
    return f"{getrandbits(128):032x}"


def request_id_from(incoming: str | None) -> str:
    """The proxy's id when it is a safe short token, a new one otherwise."""
    if incoming and _SAFE_ID.fullmatch(incoming):
        return incoming
    return new_request_id()


def current_request_id() -> str | None:
    """This request's id (for the error pages), or None outside a request."""
    ctx = _cv_request.get(None)
    return ctx.request.environ.get(ENVIRON_KEY) if ctx is not None else None


class _Stdout(logging.StreamHandler):
    """A StreamHandler on whatever ``sys.stdout`` is when a line is written (so that a
    test capturing stdout, or a server that replaced it, gets the lines)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stdout

    @stream.setter
    def stream(self, value: object) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        # StreamHandler's, without its second lock around the flush (handle() holds
        # this handler's lock already): one write and one flush per line.
        try:
            out = sys.stdout
            out.write(self.formatter.format(record) + "\n")
            out.flush()
        except Exception:
            self.handleError(record)


# One encoder for every line: json.dumps with options builds a new one on each call,
# and even a kept JSONEncoder makes its C encoder anew for every line (with a check
# for cycles a flat dict of our own cannot have). Half the cost of a line's JSON.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
if json.encoder.c_make_encoder is not None:
    _c_encode = json.encoder.c_make_encoder(
        None, str, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )

    def _encode(fields: dict) -> str:
        return "".join(_c_encode(fields, 0))

else:  # a Python without json's C accelerator
    _encode = _encoder.encode


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level and the record's fields.

    A request line's message is the dict of its fields; any other record (a warning
    of the app's own) becomes ``{"message": ...}``, with ``error`` and ``traceback``
    when it carries an exception."""

    _second = -1
    _stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # strftime once a second, not once a line
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        fields = record.msg
        if not isinstance(fields, dict):
            fields = {"logger": record.name, "message": record.getMessage()}
            if record.exc_info:
                fields["error"] = repr(record.exc_info[1])
                fields["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return _encode({"time": self._time(record.created), "level": record.levelname, **fields})


class TextFormatter(JsonFormatter):
    """The same fields on one readable line, for the development server."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record.msg
        if not isinstance(fields, dict):
            return f"{self._time(record.created)} {record.levelname} {record.getMessage()}"
        line = (
            f"{self._time(record.created)} {record.levelname} {fields.get('method')} "
            f"{fields.get('path')} {fields.get('status')} {fields.get('ms')} ms "
            f"user={fields.get('user')} addr={fields.get('remote_addr')} "
            f"pid={fields.get('pid')} id={fields.get('request_id')}"
        )
        if "event" in fields:
            line += f" {fields['event']}"
        if "traceback" in fields:
            line += "\n" + fields["traceback"]
        return line


def configure(log_format: str, level: str) -> None:
    """Put the stdout handler on the ``liveroom.request`` logger (once per process; a
    later app of the same process, in the tests, replaces the format and level)."""
    for handler in list(log.handlers):
        if isinstance(handler, _Stdout):
            log.removeHandler(handler)
    handler = _Stdout()
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    log.addHandler(handler)
    log.setLevel(level)
    # These lines are the request log; they must not also reach whatever else logs
    # the app (Flask's handler on stderr, a root handler someone configured).
    log.propagate = False


def _user_id() -> int | None:
    """Whom this request signed in, if it looked (no query for that here)."""
    ctx = _cv_app.get(None)
    user = getattr(ctx.g, "_login_user", None) if ctx is not None else None
    if user is None:
        return None
    # Read without loading: a stream has let go of its database session by now, and
    # its user is expired; the identity key still says who it was.
    found = user.__dict__.get("id")
    if found is None:
        state = user.__dict__.get("_sa_instance_state")
        key = state.key if state is not None else None
        found = key[1][0] if key else None
    return found


def _endpoint() -> str | None:
    ctx = _cv_request.get(None)
    rule = ctx.request.url_rule if ctx is not None else None
    return rule.endpoint if rule is not None else None


class RequestLog:
    """WSGI middleware: the request id, the request's line and its metrics."""

    def __init__(self, app: Callable, metrics: Callable | None = None) -> None:
        self.app = app
        # metrics(method, endpoint, status, seconds), or None when metrics are off.
        self.metrics = metrics

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = request_id

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            headers.append((HEADER, request_id))
            seconds = time.perf_counter() - started
            code = int(status[:3])
            streaming = False
            for name, value in headers:
                if name == "Content-Type" and value.startswith("text/event-stream"):
                    streaming = True
                    break
            if self.metrics is not None:
                self.metrics(environ["REQUEST_METHOD"], _endpoint(), code, seconds)
            level = logging.ERROR if code >= 500 else logging.INFO
            if log.isEnabledFor(level):
                fields = {
                    "method": environ["REQUEST_METHOD"],
                    "path": environ.get("PATH_INFO", ""),
                    "status": code,
                    "ms": round(seconds * 1000, 2),
                    "user": _user_id(),
                    "remote_addr": environ.get("REMOTE_ADDR"),
                    "pid": _PID,
                    "request_id": request_id,
                }
                if streaming:
                    fields["event"] = "stream_opened"
                    _close_line(fields, started)
                error = environ.pop(_ERROR_KEY, None)
                if error is not None:
                    fields["error"], fields["traceback"] = error
                _emit(level, fields)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def _emit(level: int, fields: dict) -> None:
    """``log.log(level, fields)`` without looking up the caller's file and line (which
    no line shows): the record is made and handled directly."""
    log.handle(log.makeRecord(log.name, level, "", 0, fields, None, None))


def _close_line(fields: dict, started: float) -> None:
    """A stream's second line when it closes, through the response's close callbacks."""
    ctx = _cv_request.get(None)
    response = getattr(ctx, "_liveroom_response", None) if ctx is not None else None
    if response is None:
        return

    def closed() -> None:
        if log.isEnabledFor(logging.INFO):
            _emit(
                logging.INFO,
                {
                    **fields,
                    "event": "stream_closed",
                    "seconds": round(time.perf_counter() - started, 1),
                },
            )

    response.call_on_close(closed)


def log_exception(exc_info: tuple) -> None:
    """Flask's ``log_exception``: the error and its traceback go on the request's
    own line (``RequestLog``) instead of a separate unstructured one."""
    ctx = _cv_request.get(None)
    if ctx is None:
        log.error({"event": "exception", "error": repr(exc_info[1])}, exc_info=exc_info)
        return
    ctx.request.environ[_ERROR_KEY] = (
        repr(exc_info[1]),
        "".join(traceback.format_exception(*exc_info)),
    )


def remember_stream(response: Any) -> Any:
    """Let the request's line find a stream's response (to log when it closes)."""
    ctx = _cv_request.get(None)
    if ctx is not None:
        ctx._liveroom_response = response
    return response


def init_app(app: Flask) -> None:
    """Configure the request log and wrap the app (call it before ProxyFix wraps)."""
    configure(app.config["LIVEROOM_LOG_FORMAT"], app.config["LIVEROOM_LOG_LEVEL"])
    app.log_exception = log_exception  # type: ignore[method-assign]
    from liveroom import metrics

    app.wsgi_app = RequestLog(app.wsgi_app, metrics.recorder(app))  # type: ignore[method-assign]
