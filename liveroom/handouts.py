"""Temporary passwords handed out after a CSV import.

Users imported without a password get a one-time temporary password. The admin sees
them once on the import's result page and may download them once as a CSV
(username,display_name,temporary_password) to hand them out. The CSV is stored
(``PasswordHandout``) only until it is downloaded or ``KEPT_FOR`` has passed,
whichever comes first; expired handouts are deleted by the next request that looks
for one and by the hub's upkeep sweep. Nothing here is ever logged.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import PasswordHandout, utcnow

KEPT_FOR = timedelta(minutes=10)
HEADER = ["username", "display_name", "temporary_password"]


def clock() -> datetime:
    """Now, naive UTC. Tests replace this function to move time on."""
    return utcnow()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def as_csv(rows: list[tuple[str, str, str]]) -> str:
    """The (username, display name, password) rows as the handout's CSV text."""
    from liveroom.csv_export import guard

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows([guard(cell) for cell in row] for row in rows)
    return out.getvalue()


def keep(rows: list[tuple[str, str, str]], actor_id: int) -> str:
    """Store the (username, display name, password) rows for one download by the admin
    ``actor_id`` (the caller commits, in the import's own transaction); returns the
    download token."""
    token = secrets.token_urlsafe(24)
    db.session.add(
        PasswordHandout(
            token_hash=_digest(token),
            created_by_id=actor_id,
            expires_at=clock() + KEPT_FOR,
            content=as_csv(rows),
        )
    )
    return token


def take(token: str, actor_id: int) -> str | None:
    """The handout's CSV, deleted as it is read (committed here), or None when it was
    downloaded already, has expired or belongs to another admin."""
    forget_expired()
    handout = db.session.get(PasswordHandout, _digest(token))
    if handout is None or handout.created_by_id != actor_id:
        return None
    content = handout.content
    # Conditional, so two clicks at once give the file to one of them.
    taken = db.session.execute(
        sa.delete(PasswordHandout).where(PasswordHandout.token_hash == handout.token_hash)
    ).rowcount
    db.session.commit()
    return content if taken == 1 else None


def forget_expired() -> int:
    """Delete every handout past its ten minutes (commits); returns how many."""
    gone = db.session.execute(
        sa.delete(PasswordHandout).where(PasswordHandout.expires_at <= clock())
    ).rowcount
    db.session.commit()
    return gone
