"""Prometheus metrics at ``GET /metrics``: off unless asked for.

``LIVEROOM_METRICS=on``, or ``LIVEROOM_METRICS_TOKEN`` set (``LIVEROOM_METRICS=off``
still wins), turns them on. With a token, a scrape must send
``Authorization: Bearer <token>`` (compared in constant time; 401 without it, 403
with a wrong one). Without a token only the machine itself may scrape: the socket's
peer must be a loopback address (the one ProxyFix replaced, not the client address it
claims) and the request must carry no ``X-Forwarded-For``, ``Forwarded`` or
``X-Real-IP``, since behind a proxy on the same machine every request comes from
loopback and only those headers tell a client's request from a local scrape. So a
proxy that forwards ``/metrics`` without saying whom for would expose it: with a
proxy in front, set a token (docs/deploy.md).

What is measured, and where, so that each request pays little (a dictionary look-up
and one histogram observation; the metrics' children are made once per label set):

- ``liveroom_http_request_duration_seconds`` (histogram; its ``_count`` is the number
  of requests) by method, endpoint (the route's name: bounded, never the path) and
  status class (``2xx``...). For a stream the time is to its first byte.
- ``liveroom_live_meetings``: meetings live now, one count query at scrape time.
- ``liveroom_open_streams`` by kind (``room``: people in a meeting; ``status``: pages
  waiting for a meeting to start or end), per worker (``pid`` label under gunicorn).
- ``liveroom_events_total``: events stored in the rooms' log (committed), each
  counted once, by the process that stored it: ``rate()`` of it is events per second.
- ``liveroom_hub_events_dispatched_total``: events a worker's hub read from the log
  and sent to its streams. Every worker reads every event, so under gunicorn the sum
  is events times workers (a worker that falls behind shows as the two rates apart).
- ``liveroom_stream_cutoffs_total``: listeners cut off because they fell 2,000
  messages behind (``hub.QUEUE_LIMIT``); their pages reconnect and catch up.

Under gunicorn several workers each count their own share: prometheus-client's
multiprocess mode adds them up (``PROMETHEUS_MULTIPROC_DIR``, a directory per run that
liveroom/gunicorn_conf.py makes and empties when the server starts, and
``mark_process_dead`` when a worker exits); the scraped worker reads every worker's
files. ``/metrics`` is counted like any other endpoint (scrapes show up as
``endpoint="metrics"``): leaving it out would cost a comparison on every request.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable

from flask import Flask, Response, request

# Methods a label may carry; anything else a client invents counts as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
# Seconds: pages take milliseconds, a password check 0.15 s, a slow write up to 5 s.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


class _Instruments:
    """The metrics of this process, made once (prometheus-client keeps them global)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Histogram(
            "liveroom_http_request_duration_seconds",
            "Requests by method, endpoint and status class, and their time (to the "
            "first byte for streams); the _count is the number of requests.",
            ["method", "endpoint", "status"],
            buckets=_BUCKETS,
        )
        self.open_streams = Gauge(
            "liveroom_open_streams",
            "Open Server-Sent Events streams of this worker: room (in a meeting) or "
            "status (waiting for a meeting to start or end).",
            ["kind"],
            multiprocess_mode="liveall",
        )
        self.stored = Counter(
            "liveroom_events",
            "Events stored in the rooms' log (committed), counted by the process that stored them.",
        )
        self.events = Counter(
            "liveroom_hub_events_dispatched",
            "Events a worker's hub read from the log and sent to its streams (every "
            "worker reads every event).",
        )
        self.cutoffs = Counter(
            "liveroom_stream_cutoffs",
            "Listeners cut off for falling too far behind (their pages reconnect).",
        )
        self.observers: dict[tuple, Callable[[float], None]] = {}

    def observer(self, method: str, endpoint: str | None, status: int) -> Callable:
        method = method if method in _METHODS else "other"
        status_class = _STATUS_CLASSES[min(max(status // 100, 1), 5) - 1]
        observe = self.requests.labels(method, endpoint or "none", status_class).observe
        self.observers[(method, endpoint, status)] = observe
        return observe


_instruments: _Instruments | None = None


def _enable() -> _Instruments:
    global _instruments
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


def recorder(app: Flask) -> Callable[[str, str | None, int, float], None] | None:
    """What the request log calls for every answer, or None when metrics are off."""
    if not app.config["LIVEROOM_METRICS"]:
        return None
    instruments = _enable()
    observers = instruments.observers
    app.add_url_rule("/metrics", "metrics", scrape)

    def record(method: str, endpoint: str | None, status: int, seconds: float) -> None:
        if method not in _METHODS:  # a client's invented method: one key, not one each
            method = "other"
        observe = observers.get((method, endpoint, status))
        if observe is None:
            observe = instruments.observer(method, endpoint, status)
        observe(seconds)

    return record


# --- what the hub counts (nothing when metrics are off) --------------------------------


def stream_opened(kind: str) -> None:
    if _instruments is not None:
        _instruments.open_streams.labels(kind).inc()


def stream_closed(kind: str) -> None:
    if _instruments is not None:
        _instruments.open_streams.labels(kind).dec()


def events_stored(count: int) -> None:
    if _instruments is not None:
        _instruments.stored.inc(count)


def events_dispatched(count: int) -> None:
    if _instruments is not None and count:
        _instruments.events.inc(count)


def listener_cut_off() -> None:
    if _instruments is not None:
        _instruments.cutoffs.inc()


# --- the endpoint ----------------------------------------------------------------------


def socket_peer_is_local(environ: dict) -> bool:
    """The connection itself comes from this machine and claims no other client."""
    original = environ.get("werkzeug.proxy_fix.orig") or {}
    peer = original.get("REMOTE_ADDR", environ.get("REMOTE_ADDR")) or ""
    try:
        loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:  # a Unix socket has no address: a proxy, perhaps
        return False
    return loopback and not any(environ.get(name) for name in _PROXY_HEADERS)


def refusal(app: Flask) -> Response | None:
    """401 or 403 when this scrape may not read the metrics, else None."""
    token = app.config["LIVEROOM_METRICS_TOKEN"]
    if not token:
        if socket_peer_is_local(request.environ):
            return None
        return Response("Metrics are served to this machine only.\n", 403, mimetype="text/plain")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return Response(
            "A bearer token is needed.\n",
            401,
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
            mimetype="text/plain",
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return Response("Wrong token.\n", 403, mimetype="text/plain")
    return None


class _LiveMeetings:
    """Meetings live now, read from the database when scraped."""

    def collect(self):  # noqa: ANN201  (prometheus-client's collector protocol)
        from prometheus_client.core import GaugeMetricFamily

        from liveroom.extensions import db
        from liveroom.rooms.meetings import live_count

        try:
            live = live_count()
        finally:
            db.session.remove()
        yield GaugeMetricFamily("liveroom_live_meetings", "Meetings live now.", value=live)


def scrape() -> Response:
    from flask import current_app
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    refused = refusal(current_app)
    if refused is not None:
        return refused
    registry = CollectorRegistry()
    registry.register(_LiveMeetings())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker's files, this one's included (its own registry would be its share).
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY) + generate_latest(registry)
    response = Response(body, mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- gunicorn's hooks (liveroom/gunicorn_conf.py), in its master process -----------------

_made_directory: str | None = None


def wanted_by_environment() -> bool:
    """Whether the settings turn metrics on (as liveroom/config.py reads them)."""
    switch = os.environ.get("LIVEROOM_METRICS", "").strip().lower()
    return switch == "on" or (switch == "" and bool(os.environ.get("LIVEROOM_METRICS_TOKEN")))


def gunicorn_on_starting() -> None:
    """Before the first worker is forked: the directory where every worker keeps its
    share (``PROMETHEUS_MULTIPROC_DIR`` when given, else a new one for this run), left
    empty so that a previous run's counts and dead workers' gauges are gone. Workers
    inherit the variable, and prometheus-client reads it when they first import it:
    in the worker, since the app is not preloaded (with ``preload_app`` it would be
    imported in the master before this hook; give the variable in the environment
    then)."""
    global _made_directory
    if not wanted_by_environment():
        return
    import tempfile

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path:
        path = _made_directory = tempfile.mkdtemp(prefix="liveroom-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def gunicorn_child_exit(pid: int) -> None:
    """A worker ended: its open-streams gauge goes (its counts stay in the sums)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") and wanted_by_environment():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def gunicorn_on_exit() -> None:
    """The server stops: the directory made for this run goes with it."""
    if _made_directory:
        import shutil

        shutil.rmtree(_made_directory, ignore_errors=True)
