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


def retry_after(bucket: str, limit: int, window: timedelta) -> int:
    """Seconds until one more hit fits in ``bucket``'s window; 0 when it fits now."""
    since = utcnow() - window
    times = list(
        db.session.scalars(
            sa.select(RateHit.at)
            .where(RateHit.bucket == bucket, RateHit.at > since)
            .order_by(RateHit.at.desc())
            .limit(limit)
        )
    )
    if len(times) < limit:
        return 0
    # The oldest of the last ``limit`` hits must leave the window first.
    wait = (times[-1] + window - utcnow()).total_seconds()
    return max(1, math.ceil(wait))


def hit(bucket: str, limit: int, window: timedelta) -> int:
    """Count one attempt against ``bucket`` (the caller commits).

    Returns 0 when it was allowed, or the seconds to wait when the limit is reached
    (a refused attempt is not counted, so waiting out the window always works).
    """
    _serialize(bucket)
    wait = retry_after(bucket, limit, window)
    if wait:
        return wait
    db.session.add(RateHit(bucket=bucket[:200]))
    return 0


def _serialize(bucket: str) -> None:
    """Count and add as one step: on PostgreSQL two requests at once would both count
    nine and both add a tenth, so each takes the bucket's lock until it commits.
    (SQLite runs one writer at a time, and its counting reads see committed hits.)"""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(bucket))))


def record(bucket: str) -> None:
    """Count an attempt without checking (a failed login, say); the caller commits."""
    db.session.add(RateHit(bucket=bucket[:200]))


def clear(bucket: str) -> None:
    db.session.execute(sa.delete(RateHit).where(RateHit.bucket == bucket[:200]))


def forget_old() -> int:
    """Delete hits no limit counts any more (run by the periodic upkeep)."""
    return db.session.execute(sa.delete(RateHit).where(RateHit.at < utcnow() - KEEP)).rowcount
