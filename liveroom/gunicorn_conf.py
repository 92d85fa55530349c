"""gunicorn settings for Liveroom.

An installed Liveroom runs ``gunicorn -c python:liveroom.gunicorn_conf liveroom.wsgi:app``
(deploy/liveroom.service); in the repository ``gunicorn wsgi:app`` reads the top-level
gunicorn.conf.py, which takes everything from here.

Room pages hold a Server-Sent Events stream open for as long as they are open, so
workers are gevent workers: one process serves thousands of idle streams cheaply.
Each worker process runs one event-log watcher (``liveroom/live/hub.py``) that feeds
the streams it holds; with ``LIVEROOM_REDIS_URL`` set, Redis pub/sub wakes every
worker at once; otherwise each watcher looks for new events by itself (on SQLite a
stat() of the database files every 2 ms, a query only when they changed).
"""

import multiprocessing
import os

bind = os.environ.get("LIVEROOM_BIND", "127.0.0.1:5000")
# One worker per core: the watcher and the streams share a process's event loop.
workers = int(os.environ.get("LIVEROOM_WORKERS", multiprocessing.cpu_count()))
worker_class = "gevent"
# Open streams per worker (a room of 1,000 on two workers needs about 500 each).
worker_connections = int(os.environ.get("LIVEROOM_WORKER_CONNECTIONS", "4000"))
# gevent workers notify the arbiter from their own loop, so long-lived streams do not
# count as a hung worker; 30 s is for a worker that truly stopped answering.
timeout = 30
graceful_timeout = 10
# Also bounds how long gunicorn drains the unread rest of a body the app refused
# (413, or 408 after LIVEROOM_BODY_TIMEOUT: liveroom/wsgi_guard.py) before it closes.
keepalive = 5
# The app writes one JSON line per request itself (liveroom/request_log.py), with its
# request id and user: gunicorn's own access log would double every line. "-" (stdout)
# or a file name turns it back on.
accesslog = os.environ.get("LIVEROOM_ACCESS_LOG") or None
forwarded_allow_ips = os.environ.get("LIVEROOM_FORWARDED_ALLOW_IPS", "127.0.0.1")


def _gc_threshold(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise SystemExit(
            f"LIVEROOM_GC_THRESHOLD must be three whole numbers above 0, such as "
            f"20000,20,20 (got {text!r})"
        )
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


# The collector's thresholds in each worker (see settle_garbage_collector).
GC_THRESHOLD = _gc_threshold(os.environ.get("LIVEROOM_GC_THRESHOLD", "20000,20,20"))


def post_fork(server, worker) -> None:  # noqa: ANN001  (gunicorn's hook signature)
    """Tell the app the worker settings actually in force (command-line options
    included): liveroom/config.py sizes each worker's database pool from them."""
    os.environ["LIVEROOM_WORKERS"] = str(server.cfg.workers)
    os.environ["LIVEROOM_WORKER_CONNECTIONS"] = str(server.cfg.worker_connections)


def post_worker_init(worker) -> None:  # noqa: ANN001  (gunicorn's hook signature)
    """Each worker accepts one connection per turn of its loop (gevent's default is up
    to 100): with several workers on one listening socket, the first to wake would
    otherwise take a whole burst of new connections, and keep-alive connections stay
    where they landed, so one worker queues requests while the other idles. This is
    what gevent's own WSGI server does when it knows it runs in several processes."""
    from gevent.baseserver import BaseServer

    BaseServer.max_accept = 1
    settle_garbage_collector()


def settle_garbage_collector() -> None:
    """Python's cyclic collector, tuned for a long-lived server process. What was
    loaded at start (the app, its templates, SQLAlchemy's compiled statements) is moved
    out of the collector's sight (``gc.freeze``), and young objects are collected
    every 20,000 allocations instead of every 700: a request allocates thousands
    (ORM rows, template output), so the default ran several young collections per
    request and, with 1,000 streams open, older ones that walked every greenlet.
    Measured in a 1,000-person join storm on PostgreSQL + Redis: the workers' CPU 15 %
    lower (bench/README.md). Cycles are still collected; memory stays bounded by the
    same generations, reached less often. ``LIVEROOM_GC_THRESHOLD`` ("700,10,10" is
    Python's default) overrides it."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def post_request(worker, req, environ, resp) -> None:  # noqa: ANN001  (gunicorn's hook)
    """Let the worker's other connections have a turn after each request. A keep-alive
    connection whose next request is already waiting is otherwise served again at once
    (reading it does not block, so gevent never switches): under load a few busy
    connections starved the others for seconds (bench/README.md, pages: p99 1 s and
    wrk timeouts before, 20 ms on the constant endpoint after, same throughput)."""
    import gevent

    gevent.sleep(0)


# Metrics (liveroom/metrics.py), when on: each worker counts its own share in a
# directory of this run's (PROMETHEUS_MULTIPROC_DIR) that a scrape adds up.
def on_starting(server) -> None:  # noqa: ANN001  (gunicorn's hook signature)
    """Before the first fork: this run's metrics directory, empty."""
    from liveroom import metrics

    metrics.gunicorn_on_starting()


def child_exit(server, worker) -> None:  # noqa: ANN001  (gunicorn's hook signature)
    """A worker ended: its per-worker gauges are removed from the sums."""
    from liveroom import metrics

    metrics.gunicorn_child_exit(worker.pid)


def on_exit(server) -> None:  # noqa: ANN001  (gunicorn's hook signature)
    from liveroom import metrics

    metrics.gunicorn_on_exit()
