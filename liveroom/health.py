"""``/healthz``: may a load balancer send people to this worker?

It answers 200 when the database (and Redis, when configured) answers, 503 naming
what failed otherwise. It needs no login and changes nothing: no session cookie, no
rows written, a fresh connection from the pool for one ``SELECT 1``.
"""

from __future__ import annotations

import logging

import redis
import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify

from liveroom.extensions import db
from liveroom.media.janus import JanusError
from liveroom.media.sfu import sfu_of

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
# A health check that hangs is worse than one that fails.
REDIS_TIMEOUT_SECONDS = 2


def database_answers() -> bool:
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except Exception as error:
        log.warning("health check: the database did not answer: %s", error)
        return False
    return True


def redis_client(url: str) -> redis.Redis:
    """One client per process, kept with the app (its pool reconnects by itself)."""
    clients = current_app.extensions.setdefault("liveroom_health_redis", {})
    if url not in clients:
        clients[url] = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )
    return clients[url]


def redis_answers(url: str) -> bool:
    try:
        return bool(redis_client(url).ping())
    except redis.RedisError as error:
        log.warning("health check: Redis did not answer: %s", error)
        return False


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    checks = {"database": "ok" if database_answers() else "failed"}
    redis_url = current_app.config.get("LIVEROOM_REDIS_URL")
    if redis_url:
        checks["redis"] = "ok" if redis_answers(redis_url) else "failed"
    failed = [name for name, state in checks.items() if state != "ok"]
    # The media servers' state is told, but does not fail the check: without them,
    # meetings still meet (small ones over the mesh) and chat goes on, so a load
    # balancer should keep sending people here.
    media = media_servers()
    if failed:
        return jsonify(status="unavailable", failed=failed, **checks, **media), 503
    return jsonify(status="ok", **checks, **media), 200


def media_servers() -> dict[str, dict[str, str]]:
    """{"media_servers": {Janus address: "ok" or "failed"}}, or nothing without any."""
    sfu = sfu_of()
    if sfu is None:
        return {}
    states = {}
    for url, client in sfu.clients.items():
        try:
            client.info()
            states[url] = "ok"
        except JanusError as error:
            log.warning("health check: the media server %s did not answer: %s", url, error)
            states[url] = "failed"
    return {"media_servers": states}
