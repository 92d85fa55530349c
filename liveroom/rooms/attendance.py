"""Attendance: who was in a meeting, in which role, from when to when (HTML and CSV)."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template
from flask_login import current_user

from liveroom.extensions import db
from liveroom.models import LiveSession, Participation, Room
from liveroom.rooms import policy, service
from liveroom.rooms.routes import bp, load_room
from liveroom.settings import get_settings


def require_attendance(room: Room) -> None:
    if not policy.may_view_attendance(current_user, room, get_settings()):
        abort(
            403, "Only the channel's Managers and Moderators, or the room's owner, see attendance."
        )


def load_session(room: Room, session_id: int) -> LiveSession:
    session = db.session.get(LiveSession, session_id)
    if session is None or session.room_id != room.id:
        abort(404, "That meeting did not happen in this room.")
    return session


def minutes(p: Participation, session: LiveSession) -> str:
    end = p.left_at or session.ended_at
    if end is None:
        return ""
    return f"{(end - p.joined_at).total_seconds() / 60:.1f}"


def csv_cell(value: str) -> str:
    # A spreadsheet must never run a formula from someone's display name.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.get("/rooms/<public_id>/attendance")
def attendance_index(public_id: str) -> str:
    room = load_room(public_id)
    require_attendance(room)
    return render_template(
        "rooms/attendance_index.html", room=room, sessions=service.past_sessions(room, 50)
    )


@bp.get("/rooms/<public_id>/sessions/<id:session_id>/attendance")
def attendance_page(public_id: str, session_id: int) -> str:
    room = load_room(public_id)
    require_attendance(room)
    session = load_session(room, session_id)
    rows = service.attendance(session)
    return render_template(
        "rooms/attendance.html",
        room=room,
        session=session,
        rows=rows,
        minutes=lambda p: minutes(p, session),
    )


@bp.get("/rooms/<public_id>/sessions/<id:session_id>/attendance.csv")
def attendance_csv(public_id: str, session_id: int) -> Response:
    room = load_room(public_id)
    require_attendance(room)
    session = load_session(room, session_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "username", "room role", "joined (UTC)", "left (UTC)", "minutes"])
    for p in service.attendance(session):
        writer.writerow(
            [
                csv_cell(p.user.display_name),
                csv_cell(p.user.username),
                p.room_role.value,
                p.joined_at.isoformat(timespec="seconds"),
                p.left_at.isoformat(timespec="seconds") if p.left_at else "",
                minutes(p, session),
            ]
        )
    filename = f"attendance-{room.public_id}-{session.started_at:%Y%m%d-%H%M}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
