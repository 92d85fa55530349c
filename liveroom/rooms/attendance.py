"""Attendance: who was in a meeting, for how long, and each of their stays (HTML, CSV).

A person who reloads, loses their connection or steps out has several stays. The page
and the summary CSV start from one line per person; the stays come below it.
Attendance stays readable while live rooms are switched off: it is a record of the
past, for the same people who could see it before.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Response, abort, render_template

from liveroom.extensions import db
from liveroom.models import LiveSession, Participation, Room, User, utcnow
from liveroom.roles import RoomRole
from liveroom.rooms import service
from liveroom.rooms.routes import attendance_visible, bp, find_room
from liveroom.templating import iso_utc

END_REASONS = {
    "no_instructor": "no instructor was in the room for 15 minutes",
    "disabled": "live rooms were turned off",
}


def require_attendance(room: Room) -> None:
    if not attendance_visible(room):
        abort(
            403, "Only the channel's Managers and Moderators, or the room's owner, see attendance."
        )


def load_session(room: Room, session_id: int) -> LiveSession:
    session = db.session.get(LiveSession, session_id)
    if session is None or session.room_id != room.id:
        abort(404, "That meeting did not happen in this room.")
    return session


def stay_end(p: Participation, session: LiveSession, now: datetime) -> datetime:
    """When a stay ended; an open stay counts up to now (or the meeting's end)."""
    return p.left_at or session.ended_at or now


def minutes(p: Participation, session: LiveSession, now: datetime | None = None) -> str:
    end = stay_end(p, session, now or utcnow())
    return f"{max((end - p.joined_at).total_seconds(), 0) / 60:.1f}"


@dataclass
class PersonAttendance:
    """One person's line: first join, last leave, time present, and their stays."""

    user: User
    stays: list[Participation] = field(default_factory=list)
    seconds_present: float = 0.0

    @property
    def first_joined(self) -> datetime:
        return self.stays[0].joined_at

    @property
    def still_here(self) -> bool:
        return any(p.left_at is None for p in self.stays)

    @property
    def last_left(self) -> datetime | None:
        return None if self.still_here else max(p.left_at for p in self.stays)

    @property
    def room_role(self) -> RoomRole:
        """The role of their latest stay (a promotion shows as what they ended as)."""
        return self.stays[-1].room_role

    @property
    def minutes_present(self) -> str:
        return f"{self.seconds_present / 60:.1f}"


def seconds_covered(spans: Iterable[tuple[datetime, datetime]]) -> float:
    """Total time covered by the spans, overlaps counted once (two tabs at once)."""
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(spans):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def people(session: LiveSession, stays: list[Participation]) -> list[PersonAttendance]:
    """One line per person, in order of first arrival."""
    now = utcnow()
    by_user: dict[int, PersonAttendance] = {}
    for stay in stays:  # already in order of joining
        by_user.setdefault(stay.user_id, PersonAttendance(stay.user)).stays.append(stay)
    for person in by_user.values():
        person.seconds_present = seconds_covered(
            (p.joined_at, max(stay_end(p, session, now), p.joined_at)) for p in person.stays
        )
    return list(by_user.values())


def csv_cell(value: str) -> str:
    # A spreadsheet must never run a formula from someone's display name.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_download(rows: list[list[str]], filename: str) -> Response:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def loaded(public_id: str, session_id: int | None = None) -> tuple[Room, LiveSession | None]:
    room = find_room(public_id)
    require_attendance(room)
    return room, load_session(room, session_id) if session_id is not None else None


@bp.get("/rooms/<public_id>/attendance")
def attendance_index(public_id: str) -> str:
    room, _ = loaded(public_id)
    return render_template(
        "rooms/attendance_index.html", room=room, sessions=service.past_sessions(room, 50)
    )


@bp.get("/rooms/<public_id>/sessions/<id:session_id>/attendance")
def attendance_page(public_id: str, session_id: int) -> str:
    room, session = loaded(public_id, session_id)
    now = utcnow()
    return render_template(
        "rooms/attendance.html",
        room=room,
        session=session,
        people=people(session, service.attendance(session)),
        minutes=lambda p: minutes(p, session, now),
        end_reason=END_REASONS.get(session.end_reason or ""),
    )


def file_stem(room: Room, session: LiveSession) -> str:
    return f"{room.public_id}-{session.started_at:%Y%m%d-%H%M}"


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
    for person in people(session, service.attendance(session)):
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
    for p in service.attendance(session):
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
