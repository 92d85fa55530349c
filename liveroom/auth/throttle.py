"""Log-in throttling: failed log-ins are counted, and too many of them are refused.

Two counts, each over a moving window (15 minutes by default):

- failures for one account from one address (10): a pupil guessing the teacher's
  password from the classroom is stopped, while the teacher, from anywhere else,
  still logs in; a pupil cannot lock the teacher out from elsewhere;
- failures from one address, whatever the account (100): one machine trying many
  accounts is stopped, while a whole school behind one NAT address can mistype
  passwords for a while before anyone is refused.

Only failures count, so a class logging in through one address is never refused for
succeeding. A correct password arriving after the limit is refused too: otherwise the
limit would only slow guessing down, not stop it.

The counts live where every worker and host sees them: in Redis through
Flask-Limiter's storage and moving-window strategy when ``LIVEROOM_REDIS_URL`` is set,
otherwise in the database (``liveroom/ratelimit.py``, table ``rate_hit``). If Redis
fails, the database counts instead, so a Redis outage neither locks people out nor
lifts the limit.

The log-in view asks before it computes any password hash, and asks again once it
holds one of the worker's hashing turns (``passwords.turn``): attempts queued behind
others then see the failures those recorded. So a burst of simultaneous guesses gets
at most a few more tries than the limit (one per hashing turn across the workers),
where counting failures only after the response (Flask-Limiter's ``deduct_when``)
would let every attempt of the burst through.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItemPerSecond
from limits.errors import StorageError

from liveroom import ratelimit
from liveroom.extensions import db

log = logging.getLogger(__name__)

EXTENSION = "liveroom_login_limiter"


@dataclass(frozen=True)
class Count:
    """One count that can refuse a log-in: its bucket name and how many failures fit."""

    bucket: str
    limit: int


def client_address() -> str:
    """Who is trying, for the counts: the client address (ProxyFix has already put
    the trusted proxy's view of it there), with an IPv6 client's /64 network standing
    for all of its addresses, since one household or attacker holds all of them."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def counts_for(address: str, username: str) -> list[Count]:
    config = current_app.config
    return [
        Count(f"login-user:{address}:{username}", config["LIVEROOM_LOGIN_FAILURES_PER_ACCOUNT"]),
        Count(f"login-ip:{address}", config["LIVEROOM_LOGIN_FAILURES_PER_ADDRESS"]),
    ]


def _window() -> int:
    return int(current_app.config["LIVEROOM_LOGIN_WINDOW"])


# -- in the database -------------------------------------------------------------------


def _db_wait(counts: list[Count]) -> int:
    window = timedelta(seconds=_window())
    return max(ratelimit.retry_after(c.bucket, c.limit, window) for c in counts)


def _db_record(counts: list[Count]) -> None:
    for count in counts:
        ratelimit.record(count.bucket)
    db.session.commit()


def _db_forget(count: Count) -> None:
    ratelimit.clear(count.bucket)
    db.session.commit()


# -- in Redis, through Flask-Limiter -----------------------------------------------------


def _limiter() -> Limiter | None:
    return current_app.extensions.get(EXTENSION)


def _item(count: Count) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(count.limit, _window())


def _redis_wait(limiter: Limiter, counts: list[Count]) -> int:
    wait = 0
    for count in counts:
        item = _item(count)
        if not limiter.limiter.test(item, count.bucket):
            reset_at, _ = limiter.limiter.get_window_stats(item, count.bucket)
            wait = max(wait, max(1, math.ceil(reset_at - time.time())))
    return wait


def _redis_record(limiter: Limiter, counts: list[Count]) -> None:
    for count in counts:
        limiter.limiter.hit(_item(count), count.bucket)


# -- what the log-in view calls ----------------------------------------------------------


def seconds_to_wait(address: str, username: str) -> int:
    """0 when this address may try this account now, else the seconds until it may."""
    counts = counts_for(address, username)
    limiter = _limiter()
    if limiter is not None:
        try:
            return _redis_wait(limiter, counts)
        except StorageError:
            log.warning("Redis is unreachable; counting log-in failures in the database")
    return _db_wait(counts)


def record_failure(address: str, username: str) -> None:
    """Count one failed log-in against the account from this address and the address."""
    counts = counts_for(address, username)
    limiter = _limiter()
    if limiter is not None:
        try:
            _redis_record(limiter, counts)
            return
        except StorageError:
            log.warning("Redis is unreachable; counting log-in failures in the database")
    _db_record(counts)


def forget_failures(address: str, username: str) -> None:
    """A correct password clears that account's count from this address (not the
    address's own count: succeeding once must not buy another hundred guesses)."""
    account = counts_for(address, username)[0]
    limiter = _limiter()
    if limiter is not None:
        try:
            limiter.limiter.clear(_item(account), account.bucket)
            return
        except StorageError:
            log.warning("Redis is unreachable; counting log-in failures in the database")
    _db_forget(account)


def init_app(app: Flask) -> None:
    """With Redis configured, keep the counts there (Flask-Limiter's Redis storage)."""
    if app.config["LIVEROOM_LOGIN_WINDOW"] > ratelimit.KEEP.total_seconds():
        raise RuntimeError(
            f"LIVEROOM_LOGIN_WINDOW must be at most {int(ratelimit.KEEP.total_seconds())} "
            "seconds: older failures are deleted from the database"
        )
    redis_url = app.config.get("LIVEROOM_REDIS_URL")
    if not redis_url:
        return
    limiter = Limiter(
        key_func=client_address,
        storage_uri=redis_url,
        storage_options={
            # Keys of the log-in counts, kept apart from anything else in that Redis.
            "key_prefix": app.config.get("LIVEROOM_LOGIN_KEY_PREFIX", "liveroom-login"),
            "wrap_exceptions": True,
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
        },
        strategy="moving-window",
    )
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
