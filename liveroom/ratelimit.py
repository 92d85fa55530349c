"""Rate limits counted in the database, so they hold across workers and hosts.

A limit is a bucket name ("hand:42:7"), a number of hits and a window. ``hit`` records
one attempt and tells whether it was within the limit; ``retry_after`` only looks. Rows older
than the longest window anyone uses are deleted as new hits come in.
"""

from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import RateHit, utcnow

# Hits older than this are never counted by any limit, and are deleted.
KEEP = timedelta(hours=1)


def _recent(bucket: str, window: timedelta, how_many: int) -> list:
    """The times of the newest ``how_many`` hits of ``bucket`` within ``window``."""
    return list(
        db.session.scalars(
            sa.select(RateHit.at)
            .where(RateHit.bucket == bucket[:200], RateHit.at > utcnow() - window)
            .order_by(RateHit.at.desc())
            .limit(how_many)
        )
    )


def _wait(oldest_counted, window: timedelta) -> int:
    """Seconds until the oldest counted hit leaves the window (at least 1)."""
    return max(1, math.ceil((oldest_counted + window - utcnow()).total_seconds()))


def retry_after(bucket: str, limit: int, window: timedelta) -> int:
    """Seconds until one more hit fits in ``bucket``'s window; 0 when it fits now."""
    times = _recent(bucket, window, limit)
    return _wait(times[-1], window) if len(times) >= limit else 0


def hit(bucket: str, limit: int, window: timedelta) -> int:
    """Count one attempt against ``bucket`` (the caller commits).

    Returns 0 when it was allowed, or the seconds to wait when the limit is reached
    (a refused attempt is not counted, so waiting out the window always works).

    Two requests at once must not both count nine and both add a tenth, so the hit is
    written first and counted with the others after: on SQLite the write holds the
    database's write lock until the caller commits, so a second request counts only
    once the first is in; on PostgreSQL each request takes the bucket's advisory lock
    for its transaction.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(bucket))))
    mine = RateHit(bucket=bucket[:200])
    db.session.add(mine)
    db.session.flush()
    times = _recent(bucket, window, limit + 1)
    if len(times) <= limit:
        return 0
    db.session.delete(mine)
    db.session.flush()
    return _wait(times[-1], window)


def record(bucket: str) -> None:
    """Count an attempt without checking (a failed login, say); the caller commits."""
    db.session.add(RateHit(bucket=bucket[:200]))


def clear(bucket: str) -> None:
    db.session.execute(sa.delete(RateHit).where(RateHit.bucket == bucket[:200]))


def forget_old() -> int:
    """Delete hits no limit counts any more (run by the periodic upkeep)."""
    return db.session.execute(sa.delete(RateHit).where(RateHit.at < utcnow() - KEEP)).rowcount
