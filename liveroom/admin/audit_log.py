"""Admin: the audit log. Who did what to whom and when (settings, accounts, channels,
memberships, moderation in meetings), newest first, filtered by actor, action and
dates, a page at a time.

Meeting actions name the meeting and the people by id (``audit.in_meeting``:
"meeting 12, user 34"); a page turns them into names with one query for all of its
entries.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from flask import render_template, request
from flask_babel import gettext as _

from liveroom.admin import bp
from liveroom.audit import ROOM_PREFIX
from liveroom.extensions import db
from liveroom.i18n import N_
from liveroom.models import AuditEntry, LiveSession, Room, User
from liveroom.params import int_arg
from liveroom.templating import wants_fragment
from liveroom.text import clean_line

PER_PAGE = 50
# What the admin reads for an action (translated as shown); any other stored action
# shows as its key.
ACTION_LABELS = {
    "setting_changed": N_("Setting changed"),
    "user_created": N_("Account created"),
    "user_role_changed": N_("Application role changed"),
    "user_deactivated": N_("Account deactivated"),
    "user_reactivated": N_("Account reactivated"),
    "user_password_reset": N_("Password reset"),
    "password_changed": N_("Password changed"),
    "person_erased": N_("Person erased"),
    "channel_created": N_("Channel created"),
    "channel_renamed": N_("Channel renamed"),
    "channel_described": N_("Channel description changed"),
    "channel_archived": N_("Channel archived"),
    "channel_unarchived": N_("Channel unarchived"),
    "membership_added": N_("Member added"),
    "membership_removed": N_("Member removed"),
    "membership_role_changed": N_("Channel role changed"),
    "channel_role_set": N_("Channel role set"),
    "private_room_renamed": N_("Private room renamed"),
    "private_room_deleted": N_("Private room deleted"),
    "private_room_archived": N_("Private room archived"),
    "room.meeting_ended": N_("Meeting ended"),
    "room.participant_removed": N_("Removed from a meeting"),
    "room.moderator_set": N_("Set as moderator"),
    "room.moderator_unset": N_("Made participant again"),
    "room.room_locked": N_("Room locked"),
    "room.room_unlocked": N_("Room unlocked"),
    "room.chat_turned_off": N_("Participant chat off"),
    "room.chat_turned_on": N_("Participant chat on"),
    "room.waiting_admitted": N_("Admitted from the waiting room"),
    "room.waiting_denied": N_("Denied entry"),
    "room.message_deleted": N_("Chat message deleted"),
}

_MEETING = re.compile(r"\bmeeting (\d+)")
_USER = re.compile(r"\buser (\d+)")


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return _(ACTION_LABELS[action])
    return action.removeprefix(ROOM_PREFIX).replace("_", " ").capitalize()


class Row(NamedTuple):
    id: int
    at: datetime
    actor: str
    action: str
    detail: str


class Filters(NamedTuple):
    actor: str
    action: str
    since: date | None
    until: date | None

    def query(self, page: int) -> dict:
        values = {
            "actor": self.actor,
            "action": self.action,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
            "page": page,
        }
        return {k: v for k, v in values.items() if v not in ("", None, 1)}


def _date_arg(name: str) -> tuple[date | None, str | None]:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None, None
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        return None, _("“%(raw)s” is not a date (YYYY-MM-DD).", raw=raw)


def known_actions() -> list[str]:
    """Every action stored in the log (read from its index), with the known ones."""
    stored = set(db.session.scalars(sa.select(AuditEntry.action).distinct()))
    return sorted(stored | set(ACTION_LABELS), key=action_label)


def names_in(details: list[str]) -> tuple[dict[int, str], dict[int, str]]:
    """The people and meetings the details name by id, as names: one query for both."""
    user_ids = {int(m) for d in details for m in _USER.findall(d)}
    meeting_ids = {int(m) for d in details for m in _MEETING.findall(d)}
    if not user_ids and not meeting_ids:
        return {}, {}
    people = sa.select(sa.literal("u"), User.id, User.display_name).where(User.id.in_(user_ids))
    rooms = (
        sa.select(sa.literal("m"), LiveSession.id, Room.name)
        .join(Room, Room.id == LiveSession.room_id)
        .where(LiveSession.id.in_(meeting_ids))
    )
    users: dict[int, str] = {}
    meetings: dict[int, str] = {}
    for kind, key, name in db.session.execute(sa.union_all(people, rooms)):
        (users if kind == "u" else meetings)[key] = name
    return users, meetings


def readable(detail: str, users: dict[int, str], meetings: dict[int, str]) -> str:
    def user(match: re.Match) -> str:
        return users.get(int(match.group(1)), f"user {match.group(1)} (erased)")

    def meeting(match: re.Match) -> str:
        name = meetings.get(int(match.group(1)))
        return f"meeting in “{name}”" if name else f"meeting {match.group(1)}"

    return _USER.sub(user, _MEETING.sub(meeting, detail))


@bp.get("/audit")
def audit_log() -> str | tuple[str, int]:
    since, since_error = _date_arg("from")
    until, until_error = _date_arg("to")
    filters = Filters(
        clean_line(request.args.get("actor", ""))[:64].lower(),
        request.args.get("action", "")[:64],
        since,
        until,
    )
    errors = [e for e in (since_error, until_error) if e]
    where = []
    if filters.actor:
        if filters.actor == "cli":
            where.append(AuditEntry.actor_id.is_(None))
        else:
            actor_id = db.session.scalar(sa.select(User.id).where(User.username == filters.actor))
            if actor_id is None:
                errors.append(
                    _("No account has the username “%(username)s”.", username=filters.actor)
                )
            where.append(AuditEntry.actor_id == (actor_id or 0))
    if filters.action:
        where.append(AuditEntry.action == filters.action)
    if since:
        where.append(AuditEntry.at >= datetime.combine(since, datetime.min.time()))
    if until:
        where.append(
            AuditEntry.at < datetime.combine(until + timedelta(days=1), datetime.min.time())
        )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(*where))
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, int_arg("page", 1)), pages)
    entries = db.session.execute(
        sa.select(
            AuditEntry.id, AuditEntry.at, User.display_name, AuditEntry.action, AuditEntry.detail
        )
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(*where)
        # Newest first, read along the filter's index (actor, action or date, then time).
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    users, meetings = names_in([entry.detail for entry in entries])
    rows = [
        Row(
            e.id,
            e.at,
            e.display_name or _("Command line"),
            action_label(e.action),
            readable(e.detail, users, meetings),
        )
        for e in entries
    ]
    context = {
        "rows": rows,
        "filters": filters,
        "errors": errors,
        "total": total,
        "page": page,
        "pages": pages,
        "actions": [(a, action_label(a)) for a in known_actions()],
    }
    status = 422 if errors else 200
    if wants_fragment():
        return render_template("admin/_audit_table.html", oob=True, **context), status
    return render_template("admin/audit_log.html", **context), status
