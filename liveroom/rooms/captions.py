"""Live captions (WCAG 2.2, criterion 1.2.4): an instructor names a captioner, someone
present in the meeting who types what is said, and each line they send appears under
the stage for everyone.

One captioner at a time: naming another replaces them. Captioning stops when an
instructor or the captioner stops it, and when the captioner leaves, is removed or
the meeting ends (``stop_if_captioner``, called as a stay closes). The lines are kept
with the chat for the retention period (liveroom/retention.py).

This module sits below presence, meetings and moderation, which call it as stays
close: it imports no other room service.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm.attributes import set_committed_value

from liveroom import audit, events
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.models import Caption, LiveSession, Participation, User
from liveroom.rooms import policy
from liveroom.rooms.chat import add_and_count_recent
from liveroom.text import clean_line

MAX_LENGTH = 500
RATE_WINDOW = timedelta(seconds=5)
# Lines per captioner per window: two a second for a fast typist, not a flood.
RATE_LIMIT = 10
# The lines a page shows under the stage (and someone who joins late sees).
SHOWN = 20


class CaptionError(ValueError):
    """A captions action that cannot be done; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def _present(session_id: int, user_id: int) -> sa.ColumnElement[bool]:
    return (
        sa.select(Participation.id)
        .where(
            Participation.session_id == session_id,
            Participation.user_id == user_id,
            Participation.left_at.is_(None),
        )
        .exists()
    )


def name_captioner(session: LiveSession, target: Participation, actor: User) -> bool:
    """Make the person of ``target`` (a present stay) the meeting's captioner, in place
    of anyone before. Returns whether anything changed (they may be already).

    Race-safe: the stay is locked first (PostgreSQL), so a Leave or a removal at the
    same moment either closes it before (and this finds nobody) or after (and stops
    the captions it finds). The meeting's row is then changed by one conditional
    update, which also takes that row's lock, so of two instructors naming two people
    at once one is the captioner in the end, and the events come in that order.
    """
    if session.ended_at is not None:
        raise CaptionError(_("This meeting has ended."), 409)
    locked = db.session.scalar(
        sa.select(Participation.id)
        .where(Participation.id == target.id, Participation.left_at.is_(None))
        .with_for_update()
    )
    if locked is None:
        db.session.rollback()
        raise CaptionError(_("That person is not in the room any more."), 404)
    changed = db.session.execute(
        sa.update(LiveSession)
        .where(
            LiveSession.id == session.id,
            LiveSession.ended_at.is_(None),
            sa.or_(LiveSession.captioner_id.is_(None), LiveSession.captioner_id != target.user_id),
            _present(session.id, target.user_id),
        )
        .values(captioner_id=target.user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        db.session.rollback()
        db.session.refresh(session)
        if session.ended_at is not None:
            raise CaptionError(_("This meeting has ended."), 409)
        if not db.session.scalar(sa.select(_present(session.id, target.user_id))):
            raise CaptionError(_("That person is not in the room any more."), 404)
        # They were the captioner already as this update ran (another click's, whether
        # or not someone else has been named since): nothing to change.
        return False
    set_committed_value(session, "captioner_id", target.user_id)
    events.append(
        session.room_id,
        Kind.CAPTIONS_CHANGED,
        session.id,
        user_id=target.user_id,
        by=actor.id,
        action="named",
    )
    audit.in_meeting(actor.id, "captioner_named", session.id, target.user_id)
    db.session.commit()
    return True


def stop_captions(session: LiveSession, actor: User, captioner_id: int) -> bool:
    """Stop the captions of ``captioner_id`` (an instructor's "Stop captions", or the
    captioner's own). Returns False when they were no longer the captioner (stopped
    or replaced meanwhile): nothing is written then."""
    stopped = _stop(session, captioner_id, "stopped", by=actor.id)
    if not stopped:
        db.session.rollback()
        return False
    if actor.id != captioner_id:  # an instructor's action, not the captioner's own
        audit.in_meeting(actor.id, "captioner_stopped", session.id, captioner_id)
    db.session.commit()
    return True


def stop_if_captioner(session: LiveSession, user_id: int, reason: str) -> bool:
    """Their stay closed (``reason``: "left", "timeout", "no_access", "removed"): if
    they were writing the captions, captioning stops. The caller commits."""
    if session.captioner_id is not None and session.captioner_id != user_id:
        return False  # as loaded: not them (a race is settled by the update below)
    return _stop(session, user_id, reason)


def stop_for_closed_stays(closed: list[tuple[int, int]]) -> int:
    """Many stays closed at once (the presence sweep), as (session id, user id): stop
    the captions of those who were writing them. One query finds them; the caller
    commits. Returns how many stopped."""
    if not closed:
        return 0
    gone = set(closed)
    candidates = db.session.scalars(
        sa.select(LiveSession).where(
            LiveSession.id.in_({session_id for session_id, _user in closed}),
            LiveSession.captioner_id.is_not(None),
        )
    ).all()
    return sum(
        _stop(session, session.captioner_id, "timeout")
        for session in candidates
        if (session.id, session.captioner_id) in gone
    )


def _stop(session: LiveSession, captioner_id: int, reason: str, by: int | None = None) -> bool:
    stopped = db.session.execute(
        sa.update(LiveSession)
        .where(LiveSession.id == session.id, LiveSession.captioner_id == captioner_id)
        .values(captioner_id=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if stopped:
        set_committed_value(session, "captioner_id", None)
        events.append(
            session.room_id,
            Kind.CAPTIONS_CHANGED,
            session.id,
            user_id=captioner_id,
            by=by,
            action=reason,
        )
    return bool(stopped)


def clean_caption(raw: str) -> str:
    """One line: NFC, control characters out, line breaks and runs of spaces folded
    to one space (``text.clean_line``), 1 to ``MAX_LENGTH`` characters."""
    body = clean_line(raw)
    if not body:
        raise CaptionError(_("Write a caption first."))
    if len(body) > MAX_LENGTH:
        raise CaptionError(
            _(
                "A caption can be at most %(limit)s characters (this one has %(length)s).",
                limit=f"{MAX_LENGTH:,}",
                length=f"{len(body):,}",
            )
        )
    return body


def post_caption(session: LiveSession, me: Participation | None, raw: str) -> Caption:
    """A line of captions from the captioner, for everyone in the meeting."""
    if session.ended_at is not None:
        raise CaptionError(_("This meeting has ended."), 409)
    if not policy.may_caption(me, session):
        if not policy.is_present(me):
            raise CaptionError(_("Join the meeting to write captions."), 403)
        raise CaptionError(_("Only the captioner an instructor named can write captions."), 403)
    body = clean_caption(raw)
    caption = Caption(session_id=session.id, author_id=me.user_id, body=body)
    recent = add_and_count_recent(caption, RATE_WINDOW)
    if recent > RATE_LIMIT:
        db.session.rollback()
        raise CaptionError(
            _(
                "You can send %(limit)s caption lines every %(seconds)s seconds. "
                "Wait a moment and send it again.",
                limit=RATE_LIMIT,
                seconds=RATE_WINDOW.seconds,
            ),
            429,
        )
    events.append(session.room_id, Kind.CAPTION_POSTED, session.id, caption_id=caption.id)
    db.session.commit()
    return caption


def recent_captions(session_id: int, limit: int = SHOWN) -> list[Caption]:
    """The meeting's last ``limit`` lines, oldest first."""
    newest = db.session.scalars(
        sa.select(Caption)
        .where(Caption.session_id == session_id)
        .order_by(Caption.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(newest))


def captioner_stay(session: LiveSession) -> Participation | None:
    """The captioner's present stay (their name and rank), None while nobody captions."""
    if session.captioner_id is None:
        return None
    return db.session.scalar(
        sa.select(Participation).where(
            Participation.session_id == session.id,
            Participation.user_id == session.captioner_id,
            Participation.left_at.is_(None),
        )
    )
