"""A person's data: everything stored about them (``export``), and erasing it
(``erase``), for GDPR and FERPA requests (``flask --app liveroom people ...``).

Every table, column by column (liveroom/models.py):

- ``user``: username, display name, role, created, email, deactivated, must change
  password, their chosen language, the live announcements they turned off and whether
  their keyboard shortcuts are on: exported; on erasure the row stays
  as an anonymous placeholder ("erased-<id>", "Former member", no password, role
  Anonymous: takes part in nothing, cannot log in), so the rows below that point at it
  keep their meaning (a meeting's attendance still counts one person) and name nobody;
  its email is emptied and its preferences are reset (no language, every
  announcement on, shortcuts on).
- ``password_handout`` (an import's temporary passwords, kept ten minutes at most):
  those they made are exported by time only; on erasure those they made, and any that
  lists them, are deleted.
- ``login_session``: times only (the token's digest is a secret): ended (their open
  pages are logged out), deleted by the upkeep a day later.
- ``sign_in_identity`` (their accounts at the school's identity provider or LMS: kind,
  issuer, subject, created, last used): exported; deleted (a later sign-in there makes
  a new account).
- ``membership``, private ``room``: exported; memberships deleted; a private room with
  meetings behind it is kept, archived and renamed "Archived room <id>" (its attendance
  stays for the school), one without any is deleted.
- ``live_session`` started or ended by them: exported; kept (the placeholder).
- ``participation`` (attendance: room role, joined, left, hand, sort name): exported;
  kept as the placeholder's (anonymous counts), its sort name emptied of the name.
- ``chat_message`` they wrote, private or not, deleted or not (marked): exported with
  its text; deleted on erasure (a live page drops it). Others' messages in their
  private thread: exported without their author; deleted with the thread (it was a
  conversation with them, about them).
- ``caption`` lines they typed as a meeting's captioner: exported with their text;
  deleted on erasure, as their chat messages are (a live page shows the lines left).
  The captioner roles they held (``live_session.captioner_id``, and the
  ``room.captioner_named`` audit entries naming them): exported; a meeting's
  captioner is cleared if it is them.
- ``waiting_entry``, ``removal`` (of them, and decided or done by them): exported,
  others not named; kept, pointing at the placeholder.
- ``media_pass`` (without its token), ``room_stream``: exported; deleted.
- ``rate_hit`` buckets naming their username (failed log-ins): exported; deleted.
- ``audit_entry`` by them or naming them: exported; their name in it replaced by the
  placeholder's.
- ``event`` rows naming them (by id, in their meetings): exported (kind and time);
  kept: they name the placeholder's id only.
- ``media_room``, ``setting``, ``upkeep_lease``, ``channel``: nothing personal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from liveroom import events
from liveroom.auth.sessions import end_every_session
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.models import (
    AuditEntry,
    Caption,
    ChatMessage,
    Event,
    LiveSession,
    LoginSession,
    MediaPass,
    Membership,
    Participation,
    PasswordHandout,
    RateHit,
    Removal,
    Room,
    RoomStream,
    SignInIdentity,
    User,
    WaitingEntry,
    sort_name_of,
    utcnow,
)
from liveroom.roles import AppRole
from liveroom.text import name_key

FORMER_MEMBER = "Former member"
# Never a valid password hash: check_password_hash refuses it.
NO_PASSWORD = "!erased"


class ErasureRefused(Exception):
    """The person cannot be erased now; the message says why and what to do."""


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


def _room_names() -> dict[int, str]:
    return dict(db.session.execute(sa.select(Room.id, Room.name)).all())


def _meeting(session: LiveSession, rooms: dict[int, str]) -> dict:
    return {
        "meeting": session.id,
        "room": rooms.get(session.room_id),
        "meeting_started_at": _time(session.started_at),
    }


def export(user: User) -> dict:
    """Everything stored about ``user``, as JSON-ready values. Others appear only as
    "another person": their names are theirs."""
    rooms = _room_names()
    sessions: dict[int, LiveSession] = {}

    def meeting(session_id: int) -> dict:
        if session_id not in sessions:
            sessions[session_id] = db.session.get(LiveSession, session_id)
        return _meeting(sessions[session_id], rooms)

    def who(user_id: int | None) -> str | None:
        if user_id is None:
            return None
        return "themselves" if user_id == user.id else "another person"

    def rows(model: type, *where: sa.ColumnElement[bool]) -> list:
        return list(db.session.scalars(sa.select(model).where(*where).order_by(model.id)))

    stays = rows(Participation, Participation.user_id == user.id)
    my_sessions = sorted({stay.session_id for stay in stays})
    written = rows(ChatMessage, ChatMessage.author_id == user.id)
    to_me = rows(
        ChatMessage, ChatMessage.thread_user_id == user.id, ChatMessage.author_id != user.id
    )
    named_events = [
        event
        for event in rows(Event, Event.session_id.in_(my_sessions))
        if user.id in (event.data.get("user_id"), event.data.get("from"))
    ]
    return {
        "account": {
            "id": user.id,
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role.value,
            "created_at": _time(user.created_at),
            "email": user.email,
            "deactivated_at": _time(user.deactivated_at),
            "must_change_password": user.must_change_password,
            "locale": user.locale,
            "announcements_off": user.announcements_off,
            "shortcuts_on": user.shortcuts_on,
        },
        "password_handouts_made": [
            {"expires_at": _time(h.expires_at)}
            for h in db.session.scalars(
                sa.select(PasswordHandout)
                .where(PasswordHandout.created_by_id == user.id)
                .order_by(PasswordHandout.expires_at)
            )
        ],
        "login_sessions": [
            {"created_at": _time(s.created_at), "ended_at": _time(s.ended_at)}
            for s in rows(LoginSession, LoginSession.user_id == user.id)
        ],
        "sign_in_identities": [
            {
                "kind": i.kind,
                "issuer": i.issuer,
                "subject": i.subject,
                "created_at": _time(i.created_at),
                "last_used_at": _time(i.last_used_at),
            }
            for i in rows(SignInIdentity, SignInIdentity.user_id == user.id)
        ],
        "memberships": [
            {"channel": m.channel.name, "role": m.role.value}
            for m in rows(Membership, Membership.user_id == user.id)
        ],
        "private_rooms": [
            {"name": r.name, "link_id": r.public_id, "created_at": _time(r.created_at)}
            for r in rows(Room, Room.owner_id == user.id)
        ],
        "meetings_started_or_ended": [
            {
                **_meeting(s, rooms),
                "started_by_them": s.started_by_id == user.id,
                "ended_by_them": s.ended_by_id == user.id,
                "ended_at": _time(s.ended_at),
            }
            for s in rows(
                LiveSession,
                sa.or_(LiveSession.started_by_id == user.id, LiveSession.ended_by_id == user.id),
            )
        ],
        "attendance": [
            {
                **meeting(p.session_id),
                "room_role": p.room_role.value,
                "set_as_moderator": p.promoted,
                "joined_at": _time(p.joined_at),
                "left_at": _time(p.left_at),
                "last_seen_at": _time(p.last_seen_at),
                "hand_raised_at": _time(p.hand_raised_at),
                "sort_name": p.sort_name,
            }
            for p in stays
        ],
        "chat_messages_written": [
            {
                **meeting(m.session_id),
                "id": m.id,
                "written_at": _time(m.created_at),
                "text": m.body,
                "private": m.thread_user_id is not None,
                "private_to": None
                if m.thread_user_id is None
                else ("the instructors" if m.thread_user_id == user.id else "another person"),
                "deleted": m.deleted_at is not None,
                "deleted_at": _time(m.deleted_at),
                "deleted_by": who(m.deleted_by_id),
            }
            for m in written
        ],
        "private_messages_to_them": [
            {
                **meeting(m.session_id),
                "id": m.id,
                "written_at": _time(m.created_at),
                "text": "" if m.deleted_at else m.body,
                "from": "an instructor",
                "deleted": m.deleted_at is not None,
            }
            for m in to_me
        ],
        "captions_written": [
            {**meeting(c.session_id), "id": c.id, "written_at": _time(c.created_at), "text": c.body}
            for c in rows(Caption, Caption.author_id == user.id)
        ],
        "captioner_roles": _captioner_roles(user, meeting),
        "chat_messages_they_deleted": [
            m.id for m in rows(ChatMessage, ChatMessage.deleted_by_id == user.id)
        ],
        "waiting_room": [
            {
                **meeting(w.session_id),
                "asked_at": _time(w.asked_at),
                "decision": w.decision,
                "decided_at": _time(w.decided_at),
                "decided_by": who(w.decided_by_id),
            }
            for w in rows(WaitingEntry, WaitingEntry.user_id == user.id)
        ],
        "waiting_room_decisions_they_made": [
            {**meeting(w.session_id), "decision": w.decision, "decided_at": _time(w.decided_at)}
            for w in rows(
                WaitingEntry, WaitingEntry.decided_by_id == user.id, WaitingEntry.user_id != user.id
            )
        ],
        "removed_from": [
            {**meeting(r.session_id), "removed_at": _time(r.removed_at)}
            for r in rows(Removal, Removal.user_id == user.id)
        ],
        "removals_they_made": [
            {**meeting(r.session_id), "removed_at": _time(r.removed_at)}
            for r in rows(Removal, Removal.removed_by_id == user.id)
        ],
        "media_passes": [
            {**meeting(p.session_id), "created_at": _time(p.created_at), "token": "(withheld)"}
            for p in db.session.scalars(
                sa.select(MediaPass)
                .join(Participation, Participation.id == MediaPass.participation_id)
                .where(Participation.user_id == user.id)
            )
        ],
        "room_streams": [
            {
                **meeting(s.session_id),
                "opened_at": _time(s.opened_at),
                "seen_at": _time(s.seen_at),
                "closed_at": _time(s.closed_at),
            }
            for s in rows(RoomStream, RoomStream.user_id == user.id)
        ],
        "failed_log_ins": [
            {"counted_as": hit.bucket, "at": _time(hit.at)}
            for hit in rows(RateHit, _rate_hits_of(user))
        ],
        "audit_entries": [
            {
                "at": _time(a.at),
                "action": a.action,
                "detail": a.detail,
                "by_them": a.actor_id == user.id,
            }
            for a in rows(AuditEntry, _audit_of(user))
        ],
        "room_events_naming_them": [
            {"kind": e.kind, "at": _time(e.created_at), **meeting(e.session_id)}
            for e in named_events
        ],
    }


def _captioner_roles(user: User, meeting: Callable[[int], dict]) -> list[dict]:
    """The meetings whose captions an instructor asked them to write (the audit's
    ``room.captioner_named`` entries name them by id), and one they write now."""
    named = db.session.scalars(
        sa.select(AuditEntry)
        .where(
            AuditEntry.action == "room.captioner_named",
            AuditEntry.detail.endswith(f", user {user.id}"),
        )
        .order_by(AuditEntry.id)
    )
    roles = []
    for entry in named:
        found = re.match(r"meeting (\d+),", entry.detail)
        if found and db.session.get(LiveSession, int(found.group(1))) is not None:
            roles.append({**meeting(int(found.group(1))), "named_at": _time(entry.at)})
    now = db.session.scalars(sa.select(LiveSession.id).where(LiveSession.captioner_id == user.id))
    roles += [{**meeting(session_id), "captioner_now": True} for session_id in now]
    return roles


def _written_by_or_to(user: User) -> sa.ColumnElement[bool]:
    """Their messages, and their private thread (the instructors' side too)."""
    return sa.or_(ChatMessage.author_id == user.id, ChatMessage.thread_user_id == user.id)


def _rate_hits_of(user: User) -> sa.ColumnElement[bool]:
    # Failed log-ins count in "login-user:<address>:<username>" (auth/throttle.py).
    return sa.and_(
        RateHit.bucket.startswith("login-user:"), RateHit.bucket.endswith(f":{user.username}")
    )


def _audit_of(user: User) -> sa.ColumnElement[bool]:
    return sa.or_(
        AuditEntry.actor_id == user.id,
        AuditEntry.detail.contains(user.username),
        AuditEntry.detail.contains(user.display_name),
    )


def check_erasable(user: User) -> None:
    """Refuse while they are in a live meeting or own one's room, or are the last admin."""
    live = db.session.scalar(
        sa.select(Room.name)
        .join(LiveSession, LiveSession.room_id == Room.id)
        .outerjoin(
            Participation,
            sa.and_(
                Participation.session_id == LiveSession.id,
                Participation.user_id == user.id,
                Participation.left_at.is_(None),
            ),
        )
        .where(
            LiveSession.ended_at.is_(None),
            sa.or_(Participation.id.is_not(None), Room.owner_id == user.id),
        )
        .limit(1)
    )
    if live is not None:
        raise ErasureRefused(
            _(
                "%(username)s is in a live meeting in '%(room)s' (or it is their room); "
                "erase them once it has ended",
                username=user.username,
                room=live,
            )
        )
    if user.role.is_admin:
        admins = [role for role in AppRole if role.is_admin]
        others = db.session.scalar(
            sa.select(sa.func.count()).where(User.role.in_(admins), User.id != user.id)
        )
        if not others:
            raise ErasureRefused(
                _(
                    "%(username)s is the last admin; make someone else admin first",
                    username=user.username,
                )
            )


def erase(user: User) -> str:
    """Remove or anonymise everything about ``user`` in one transaction (the caller
    checked ``check_erasable``); returns the placeholder's username. Audit-logged."""
    placeholder = f"erased-{user.id}"
    username, display_name = user.username, user.display_name

    def gone(statement: sa.Executable) -> None:
        db.session.execute(statement.execution_options(synchronize_session=False))

    # What they wrote: a page of a live meeting (one they left) drops it at once.
    for message_id, session_id, room_id, thread in db.session.execute(
        sa.select(
            ChatMessage.id, ChatMessage.session_id, LiveSession.room_id, ChatMessage.thread_user_id
        )
        .join(LiveSession, LiveSession.id == ChatMessage.session_id)
        .where(_written_by_or_to(user), LiveSession.ended_at.is_(None))
    ):
        events.append(
            room_id, Kind.CHAT_DELETED, session_id, message_id=message_id, thread_user_id=thread
        )
    gone(sa.delete(ChatMessage).where(_written_by_or_to(user)))
    # Their caption lines, like their messages: a live meeting's pages show the rest.
    for session_id, room_id in db.session.execute(
        sa.select(LiveSession.id, LiveSession.room_id).where(
            LiveSession.ended_at.is_(None),
            LiveSession.id.in_(sa.select(Caption.session_id).where(Caption.author_id == user.id)),
        )
    ):
        events.append(room_id, Kind.CAPTIONS_CHANGED, session_id, action="erased")
    gone(sa.delete(Caption).where(Caption.author_id == user.id))
    gone(
        sa.update(LiveSession).where(LiveSession.captioner_id == user.id).values(captioner_id=None)
    )
    # Ended rather than deleted: the hubs close their browsers' open streams at once,
    # and the upkeep deletes ended rows a day later (auth/sessions.py).
    end_every_session(user)
    gone(sa.delete(Membership).where(Membership.user_id == user.id))
    gone(sa.delete(SignInIdentity).where(SignInIdentity.user_id == user.id))
    gone(
        sa.delete(MediaPass).where(
            MediaPass.participation_id.in_(
                sa.select(Participation.id).where(Participation.user_id == user.id)
            )
        )
    )
    gone(sa.delete(RoomStream).where(RoomStream.user_id == user.id))
    gone(sa.delete(RateHit).where(_rate_hits_of(user)))
    gone(
        sa.delete(PasswordHandout).where(
            sa.or_(
                PasswordHandout.created_by_id == user.id,
                # Its CSV lines start with the username: "sam,Sam Lee,…".
                PasswordHandout.content.contains(f"\n{username},"),
            )
        )
    )
    gone(
        sa.update(Participation)
        .where(Participation.user_id == user.id)
        .values(sort_name=sort_name_of(FORMER_MEMBER))
    )
    for room in db.session.scalars(sa.select(Room).where(Room.owner_id == user.id)):
        held = db.session.scalar(
            sa.select(LiveSession.id).where(LiveSession.room_id == room.id).limit(1)
        )
        if held is None:
            db.session.delete(room)
        else:
            room.name = f"Archived room {room.id}"
            room.name_key = name_key(room.name)
            room.archived_at = room.archived_at or utcnow()
    pattern = re.compile(
        "|".join(rf"(?<!\w){re.escape(name)}(?!\w)" for name in (username, display_name))
    )
    for entry in db.session.scalars(sa.select(AuditEntry).where(_audit_of(user))):
        entry.detail = pattern.sub(placeholder, entry.detail)
    user.username = placeholder
    user.display_name = FORMER_MEMBER
    user.password_hash = NO_PASSWORD
    user.role = AppRole.ANONYMOUS
    user.email = None
    user.must_change_password = False
    user.locale = None
    user.announcements_off = ""
    user.shortcuts_on = True
    db.session.add(AuditEntry(action="person_erased", detail=f"{placeholder}: erased (CLI)"))
    db.session.commit()
    return placeholder
