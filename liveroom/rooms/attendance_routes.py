"""Attendance pages and CSV downloads (the records themselves: ``attendance.py``).

Attendance stays readable while live rooms are switched off: it is a record of the
past, for the same people who could see it before.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Response, abort, current_app, render_template
from flask_babel import get_locale
from flask_babel import gettext as _

from liveroom.auth.sessions import signed_in_user
from liveroom.channels.policy import note_membership_role
from liveroom.extensions import db
from liveroom.models import LiveSession, Membership, Room, User, utcnow
from liveroom.rooms import attendance, bp, meetings
from liveroom.rooms.attendance import csv_cell, minutes, people
from liveroom.rooms.pages import attendance_visible
from liveroom.rooms.policy import shown_rank
from liveroom.templating import iso_utc


def require_attendance(room: Room) -> None:
    if not attendance_visible(room):
        abort(
            403,
            _("Only the channel's Managers and Moderators, or the room's owner, see attendance."),
        )


# Built once: what every attendance page and download reads first, in one statement
# rather than three. The room with its channel; the role my membership of that channel
# gives me (what the policy asks before showing attendance); and the meeting asked
# for, if it happened in this room, with the name of who started it (the page names
# them: a name column costs less than loading that person).
_STARTER = so.aliased(User)
_ROOM_AND_MEETING = (
    sa.select(Room, Membership.role, LiveSession, _STARTER.display_name)
    .outerjoin(Room.channel)
    .outerjoin(
        Membership,
        sa.and_(
            Membership.channel_id == Room.channel_id,
            Membership.user_id == sa.bindparam("user_id"),
        ),
    )
    .outerjoin(
        LiveSession,
        sa.and_(LiveSession.id == sa.bindparam("session_id"), LiveSession.room_id == Room.id),
    )
    .outerjoin(_STARTER, _STARTER.id == LiveSession.started_by_id)
    .where(Room.public_id == sa.bindparam("public_id"))
    .options(so.contains_eager(Room.channel))
)


def loaded(public_id: str, session_id: int | None = None) -> tuple[Room, LiveSession | None]:
    """The room (404 without one), once attendance is visible to me there (403), and
    the meeting ``session_id`` of it, if one is asked for (404 if none of the room's)."""
    room, session, _starter = loaded_with_starter(public_id, session_id)
    return room, session


def loaded_with_starter(
    public_id: str, session_id: int | None = None
) -> tuple[Room, LiveSession | None, str | None]:
    """``loaded``, and the name of who started the meeting (None without one)."""
    me = signed_in_user()
    found = db.session.execute(
        _ROOM_AND_MEETING, {"public_id": public_id, "user_id": me.id, "session_id": session_id}
    ).one_or_none()
    if found is None:
        abort(404)
    room, membership_role, session, started_by = found
    if room.channel_id is not None:
        note_membership_role(me, room.channel_id, membership_role)
    require_attendance(room)
    if session_id is not None and session is None:
        abort(404, _("That meeting did not happen in this room."))
    return room, session, started_by


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


@bp.get("/rooms/<room:public_id>/attendance")
def attendance_index(public_id: str) -> str:
    room, _session = loaded(public_id)
    return render_template(
        "rooms/attendance_index.html", room=room, sessions=meetings.past_sessions(room, 50)
    )


@bp.get("/rooms/<room:public_id>/sessions/<id:session_id>/attendance")
def attendance_page(public_id: str, session_id: int) -> str:
    room, session, started_by = loaded_with_starter(public_id, session_id)
    return render_template(
        "rooms/attendance.html",
        room=room,
        session=session,
        started_by=started_by,
        rows=attendance_lines(session),
        end_reason=attendance.end_reason(session.end_reason),
        retention_days=retention_ended(session),
    )


def retention_ended(session: LiveSession) -> int | None:
    """The retention period in days when the meeting's attendance has been deleted
    after it (liveroom/retention.py), None while it is kept."""
    days = current_app.config["LIVEROOM_RETENTION_DAYS"]
    if session.ended_at is not None and session.ended_at < utcnow() - timedelta(days=days):
        return days
    return None


def attendance_lines(session: LiveSession) -> tuple[Line, ...]:
    """The table's lines: worked out from the stays, once per exact set of stays while
    nobody's time still counts up (the lines then follow from the rows alone)."""
    rows = attendance.stay_rows(session)
    if attendance.counts_up(session, rows):
        return lines_of(session, rows, utcnow())
    # The lines hold the badges' words: kept per language.
    return _lines_kept(rows, _Ended(session.ended_at), str(get_locale()))


class _Ended(NamedTuple):
    """What the lines read of a meeting once nobody's time counts up: when it ended."""

    ended_at: datetime | None


@lru_cache(maxsize=512)
def _lines_kept(
    rows: tuple[attendance.StayRow, ...], ended: _Ended, language: str
) -> tuple[Line, ...]:
    # The key is every stay as read and the meeting's end: all the lines show. The
    # same tuple each time also makes the table's drawing (drawn_each) compare at once.
    return lines_of(ended, rows, utcnow())


def lines_of(
    session: LiveSession | _Ended, rows: tuple[attendance.StayRow, ...], now: datetime
) -> tuple[Line, ...]:
    """One line per person from the stays read as ``rows``, open stays up to ``now``."""
    return tuple(
        row_of(person, session, now)
        for person in people(session, attendance.stays(session, rows), now)
    )


class Line(NamedTuple):
    """One person's line of the attendance table as plain values: everything the line
    shows, so that ``drawn_each`` draws it once and reuses it while it is the same. A
    named tuple: built, hashed and compared (as the key of its drawing) in C, where a
    frozen dataclass did each in Python, fifty lines a page."""

    name: str
    username: str
    badge: str
    first_joined: datetime
    still_here: bool
    last_left: datetime | None
    minutes_present: str
    # (joined, left, minutes, badge) of each stay when there are several; empty for
    # the one stay most people have, which the line shows as "1" (its time is the
    # line's own).
    stays: tuple[tuple[datetime, datetime | None, str, str], ...]


def row_of(person: attendance.PersonAttendance, session: LiveSession, now: datetime) -> Line:
    several = len(person.stays) > 1
    return Line(
        person.user.display_name,
        person.user.username,
        shown_rank(person.stays[-1]).badge,
        person.first_joined,
        person.still_here,
        person.last_left,
        person.minutes_present,
        tuple(
            (p.joined_at, p.left_at, minutes(p, session, now), shown_rank(p).badge)
            for p in person.stays
        )
        if several
        else (),
    )


@bp.get("/rooms/<room:public_id>/sessions/<id:session_id>/attendance-summary.csv")
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


@bp.get("/rooms/<room:public_id>/sessions/<id:session_id>/attendance.csv")
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
