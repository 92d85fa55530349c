"""Attendance pages and CSV downloads (the records themselves: ``attendance.py``).

Attendance stays readable while live rooms are switched off: it is a record of the
past, for the same people who could see it before.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Response, abort, render_template

from liveroom.extensions import db
from liveroom.models import LiveSession, Room, utcnow
from liveroom.rooms import attendance, bp, meetings
from liveroom.rooms.attendance import csv_cell, minutes, people
from liveroom.rooms.pages import attendance_visible, find_room
from liveroom.rooms.policy import shown_rank
from liveroom.templating import iso_utc


def require_attendance(room: Room) -> None:
    if not attendance_visible(room):
        abort(
            403, "Only the channel's Managers and Moderators, or the room's owner, see attendance."
        )


# Built once; who started the meeting comes with it (the page names them).
_SESSION_WITH_STARTER = (
    sa.select(LiveSession)
    .where(LiveSession.id == sa.bindparam("session_id"))
    .options(so.joinedload(LiveSession.started_by))
)


def load_session(room: Room, session_id: int) -> LiveSession:
    session = db.session.scalar(_SESSION_WITH_STARTER, {"session_id": session_id})
    if session is None or session.room_id != room.id:
        abort(404, "That meeting did not happen in this room.")
    return session


def loaded(public_id: str, session_id: int | None = None) -> tuple[Room, LiveSession | None]:
    room = find_room(public_id)
    require_attendance(room)
    return room, load_session(room, session_id) if session_id is not None else None


def csv_download(rows: list[list[str]], filename: str) -> Response:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def file_stem(room: Room, session: LiveSession) -> str:
    return f"{room.public_id}-{session.started_at:%Y%m%d-%H%M}"


@bp.get("/rooms/<public_id>/attendance")
def attendance_index(public_id: str) -> str:
    room, _ = loaded(public_id)
    return render_template(
        "rooms/attendance_index.html", room=room, sessions=meetings.past_sessions(room, 50)
    )


@bp.get("/rooms/<public_id>/sessions/<id:session_id>/attendance")
def attendance_page(public_id: str, session_id: int) -> str:
    room, session = loaded(public_id, session_id)
    now = utcnow()
    return render_template(
        "rooms/attendance.html",
        room=room,
        session=session,
        rows=[
            row_of(person, session, now) for person in people(session, attendance.stays(session))
        ],
        end_reason=attendance.END_REASONS.get(session.end_reason or ""),
    )


@dataclass(frozen=True, slots=True)
class Line:
    """One person's line of the attendance table as plain values: everything the line
    shows, so that ``drawn_each`` draws it once and reuses it while it is the same."""

    name: str
    username: str
    badge: str
    first_joined: datetime
    still_here: bool
    last_left: datetime | None
    minutes_present: str
    # (joined, left, minutes, badge) of each stay, when there are several.
    stays: tuple[tuple[datetime, datetime | None, str, str], ...]


def row_of(person: attendance.PersonAttendance, session: LiveSession, now: datetime) -> Line:
    return Line(
        name=person.user.display_name,
        username=person.user.username,
        badge=shown_rank(person.stays[-1]).badge,
        first_joined=person.first_joined,
        still_here=person.still_here,
        last_left=person.last_left,
        minutes_present=person.minutes_present,
        stays=tuple(
            (p.joined_at, p.left_at, minutes(p, session, now), shown_rank(p).badge)
            for p in person.stays
        ),
    )


@bp.get("/rooms/<public_id>/sessions/<id:session_id>/attendance-summary.csv")
def attendance_summary_csv(public_id: str, session_id: int) -> Response:
    """One row per person. Times are ISO 8601 in UTC, as spreadsheets and scripts expect."""
    room, session = loaded(public_id, session_id)
    rows = [
        [
            "name",
            "username",
            "room role",
            "first joined (UTC)",
            "last left (UTC)",
            "still in the room",
            "minutes present",
            "stays",
        ]
    ]
    for person in people(session, attendance.stays(session)):
        rows.append(
            [
                csv_cell(person.user.display_name),
                csv_cell(person.user.username),
                person.room_role.value,
                iso_utc(person.first_joined),
                iso_utc(person.last_left),
                "yes" if person.still_here else "no",
                person.minutes_present,
                str(len(person.stays)),
            ]
        )
    return csv_download(rows, f"attendance-summary-{file_stem(room, session)}.csv")


@bp.get("/rooms/<public_id>/sessions/<id:session_id>/attendance.csv")
def attendance_csv(public_id: str, session_id: int) -> Response:
    """Every stay, one row each, in order of joining."""
    room, session = loaded(public_id, session_id)
    now = utcnow()
    rows = [["name", "username", "room role", "joined (UTC)", "left (UTC)", "minutes"]]
    for p in attendance.stays(session):
        rows.append(
            [
                csv_cell(p.user.display_name),
                csv_cell(p.user.username),
                p.room_role.value,
                iso_utc(p.joined_at),
                iso_utc(p.left_at),
                minutes(p, session, now) if p.left_at or session.ended_at else "",
            ]
        )
    return csv_download(rows, f"attendance-stays-{file_stem(room, session)}.csv")
