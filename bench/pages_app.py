"""Liveroom as gunicorn serves it, plus one constant endpoint for bench/pages_bench.py.

    gunicorn -c gunicorn.conf.py --pythonpath bench 'pages_app:build()'

``GET /bench/constant`` answers a fixed string and touches no database: the same
app, workers and middleware (security headers, body guard) as the pages it is
compared with, so the ratio of a page to it is what the page's own work costs.
"""

from __future__ import annotations

from flask import Flask

from liveroom import create_app

CONSTANT_PATH = "/bench/constant"


def add_constant(app: Flask) -> Flask:
    """Register the constant endpoint on ``app`` (pages_bench also counts its SQL
    in-process, on an app of its own)."""

    @app.get(CONSTANT_PATH)
    def bench_constant() -> str:
        return "constant"

    return app


def build() -> Flask:
    """The app gunicorn serves: configured from the environment, as wsgi.py's."""
    return add_constant(create_app())
