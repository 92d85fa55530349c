"""What the request log and the metrics cost each request, in-process.

    .venv/bin/python bench/request_log_cost.py

Two measures. Function calls per request of the constant endpoint (cProfile's count:
deterministic, which the pages benchmark decides on) without the request log's
middleware (the app as it was), with a JSON line, with the lines off
(``LIVEROOM_LOG_LEVEL=WARNING``) and with metrics on too. Then CPU microseconds the
middleware adds around a bare WSGI app (no Flask: the figure is the log's own, not
the page's noise), the fastest of many rounds. The lines go to /dev/null: the write
and its flush are counted, not the terminal.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pages_app import CONSTANT_PATH, add_constant  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from liveroom import create_app, request_log  # noqa: E402
from liveroom.extensions import db  # noqa: E402


def app_with(**config: object):  # noqa: ANN201  (a Flask app)
    folder = tempfile.mkdtemp()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/cost.sqlite",
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": folder,
            **config,
        }
    )
    with app.app_context():
        db.create_all()
    return add_constant(app)


def serve(app, environ: dict) -> None:  # noqa: ANN001
    body = app(dict(environ), lambda status, headers, exc_info=None: None)
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()


def calls_per_request(app, bare: bool, requests: int = 2000) -> float:  # noqa: ANN001
    wrapped = app.wsgi_app
    if bare:  # the app without the middleware, as before the request log
        app.wsgi_app = wrapped.app
    environ = EnvironBuilder(path=CONSTANT_PATH).get_environ()
    for _ in range(200):
        serve(app, environ)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        serve(app, environ)
    profiler.disable()
    app.wsgi_app = wrapped
    return pstats.Stats(profiler).total_calls / requests


def microseconds_added(log_format: str, level: str, rounds: int = 30, n: int = 20000) -> float:
    def bare(environ: dict, start_response) -> list[bytes]:  # noqa: ANN001
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"constant"]

    def fastest(app) -> float:  # noqa: ANN001
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/constant", "REMOTE_ADDR": "127.0.0.1"}
        best = float("inf")
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(n):
                app(dict(environ), lambda status, headers, exc_info=None: None)
            best = min(best, (time.process_time() - start) / n)
        return best * 1e6

    request_log.configure(log_format, level)
    return fastest(request_log.RequestLog(bare)) - fastest(bare)


def main() -> None:
    report = sys.stderr
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (the lines, written and flushed)
    print("Function calls per request, constant endpoint:", file=report)
    plain, metered = app_with(), app_with(LIVEROOM_METRICS=True)
    for label, app, bare, level in (
        ("without the request log", plain, True, "INFO"),
        ("JSON line (the default)", plain, False, "INFO"),
        ("lines off (WARNING)", plain, False, "WARNING"),
        ("JSON line and metrics", metered, False, "INFO"),
    ):
        # The logger is one per process: the level of the row, whichever app made it.
        request_log.configure("json", level)
        print(f"  {label:<28} {calls_per_request(app, bare):6.0f}", file=report)
    print("CPU microseconds the middleware adds to a request:", file=report)
    for label, log_format, level in (
        ("JSON line", "json", "INFO"),
        ("text line", "text", "INFO"),
        ("lines off (WARNING)", "json", "WARNING"),
    ):
        print(f"  {label:<28} {microseconds_added(log_format, level):6.1f}", file=report)


if __name__ == "__main__":
    main()
