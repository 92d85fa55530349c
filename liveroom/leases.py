"""Upkeep leases: one process at a time does a piece of upkeep, on any number of
workers and hosts, with one conditional write per look.

A process takes a lease when it is free (nobody holds it, or its holder let it run
out) and keeps it by renewing it before it runs out, so the same worker goes on doing
the job while it lives; when it dies, another takes over once the lease runs out.
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from liveroom.extensions import db
from liveroom.models import UpkeepLease, utcnow


def holder_name(owner: object) -> str:
    """Names this process (and the object in it that holds leases) among all hosts."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{id(owner):x}"


def take(name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``seconds``; False when someone else holds
    it. Commits; one statement when the lease exists (always, after the first time)."""
    now = utcnow()
    until = now + timedelta(seconds=seconds)
    taken = db.session.execute(
        sa.update(UpkeepLease)
        .where(
            UpkeepLease.name == name,
            sa.or_(UpkeepLease.holder == holder, UpkeepLease.expires_at < now),
        )
        .values(holder=holder, expires_at=until)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken:
        db.session.commit()
        return True
    db.session.rollback()
    exists = db.session.scalar(sa.select(UpkeepLease.name).where(UpkeepLease.name == name))
    if exists is not None:
        db.session.rollback()
        return False
    db.session.add(UpkeepLease(name=name, holder=holder, expires_at=until))
    try:
        db.session.commit()
    except IntegrityError:  # another process made it first: theirs
        db.session.rollback()
        return False
    return True
