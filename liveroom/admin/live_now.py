"""Admin: Live now, the safeguarding view. Every meeting live right now: its room, its
channel or owner, who started it and when, and who is in it. An admin joins any of
them as staff, or ends it for everyone (audit-logged)."""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from liveroom.admin import bp
from liveroom.auth.sessions import signed_in_user
from liveroom.channels.forms import ConfirmForm
from liveroom.extensions import db
from liveroom.media.backend import close_media
from liveroom.models import Channel, LiveSession, Participation, Room, User
from liveroom.roles import RoomRole
from liveroom.rooms import meetings


class Present(NamedTuple):
    display_name: str
    instructor: bool


class LiveMeeting(NamedTuple):
    session_id: int
    public_id: str
    room_name: str
    channel_name: str | None
    channel_id: int | None
    owner_name: str | None
    started_by: str
    started_at: object
    people: tuple[Present, ...]


Owner = so.aliased(User)
Starter = so.aliased(User)


def live_meetings() -> list[LiveMeeting]:
    """Every live meeting with who is in it: two statements, however many meetings."""
    rows = db.session.execute(
        sa.select(
            LiveSession.id,
            Room.public_id,
            Room.name,
            Channel.name,
            Channel.id,
            Owner.display_name,
            Starter.display_name,
            LiveSession.started_at,
        )
        .join(Room, Room.id == LiveSession.room_id)
        .outerjoin(Channel, Channel.id == Room.channel_id)
        .outerjoin(Owner, Owner.id == Room.owner_id)
        .join(Starter, Starter.id == LiveSession.started_by_id)
        .where(LiveSession.ended_at.is_(None))
        .order_by(LiveSession.started_at, LiveSession.id)
    ).all()
    if not rows:
        return []
    present: dict[int, list[Present]] = defaultdict(list)
    for session_id, name, role in db.session.execute(
        sa.select(Participation.session_id, User.display_name, Participation.room_role)
        .join(User, User.id == Participation.user_id)
        .where(
            Participation.session_id.in_([row[0] for row in rows]),
            Participation.left_at.is_(None),
        )
        .order_by(Participation.session_id, Participation.sort_name, Participation.id)
    ):
        present[session_id].append(Present(name, role is RoomRole.INSTRUCTOR))
    return [LiveMeeting(*row, people=tuple(present[row[0]])) for row in rows]


@bp.get("/live")
def live_now() -> str:
    return render_template("admin/live_now.html", meetings=live_meetings())


@bp.post("/live/<id:session_id>/end")
def end_meeting(session_id: int) -> Response:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db.session.get(LiveSession, session_id)
    if session is None:
        abort(404)
    name = session.room.name
    if session.ended_at is not None:
        flash(_("The meeting in “%(name)s” had already ended.", name=name), "success")
        return redirect(url_for("admin.live_now"), 303)
    # Audited as ``room.meeting_ended`` with the reason "admin" (``end_session``).
    meetings.end_session(session, signed_in_user(), reason="admin")
    close_media(session)
    flash(_("The meeting in “%(name)s” has ended for everyone in it.", name=name), "success")
    return redirect(url_for("admin.live_now"), 303)
