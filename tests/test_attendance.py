"""Attendance: one line per person first, their stays below, two CSV files in UTC."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import LiveSession, Participation, User
from liveroom.roles import ChannelRole, RoomRole
from tests.conftest import HTMX, as_user, text_of

START = datetime(2026, 11, 28, 9, 16, 5, 123456)


class Meeting:
    """A seven-minute Biology 101 meeting that ended, written straight to the database:
    Maria taught throughout, Sam came and went three times, Priya stayed once."""

    def __init__(self, app, world):
        world.user("teacher", name="Maria Rivera")
        world.user("sam", name="Sam Lee")
        world.user("priya", name="Priya Patel")
        world.enable()
        self.app = app
        channel = world.channel(
            teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER, priya=ChannelRole.MEMBER
        )
        self.room = world.room_of(channel)
        with app.app_context():
            ids = dict(db.session.execute(sa.select(User.username, User.id)).all())
            room = world.room(self.room)
            session = LiveSession(
                room_id=room.id,
                started_by_id=ids["teacher"],
                started_at=START,
                ended_at=START + timedelta(minutes=7),
                end_reason="ended",
            )
            db.session.add(session)
            db.session.flush()

            def stay(user, role, start, end):
                db.session.add(
                    Participation(
                        session_id=session.id,
                        user_id=ids[user],
                        room_role=role,
                        joined_at=START + timedelta(minutes=start),
                        left_at=START + timedelta(minutes=end),
                    )
                )

            stay("teacher", RoomRole.INSTRUCTOR, 0, 7)
            stay("sam", RoomRole.PARTICIPANT, 1, 2)
            stay("sam", RoomRole.PARTICIPANT, 3, 4.5)
            stay("sam", RoomRole.PARTICIPANT, 5, 6)
            stay("priya", RoomRole.PARTICIPANT, 2, 6)
            db.session.commit()
            self.session = session.id
        self.teacher = as_user(app, "teacher")
        self.sam = as_user(app, "sam")
        self.base = f"/rooms/{self.room}/sessions/{self.session}"

    def page(self):
        return self.teacher.get(f"{self.base}/attendance")

    def csv(self, name):
        response = self.teacher.get(f"{self.base}/{name}")
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def meeting(app, world):
    return Meeting(app, world)


def rows_of(response) -> list[str]:
    """The visible text of each row of the summary table."""
    html = response.get_data(as_text=True)
    body = re.search(r"<tbody.*?</tbody>", html, flags=re.S).group(0)
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr\b.*?</tr>", body, flags=re.S)
    ]


def test_teacher_reads_one_line_per_person_with_total_minutes_and_stays(meeting):
    rows = rows_of(meeting.page())
    assert len(rows) == 3, "three people, not five stays"
    maria, sam, priya = rows
    assert maria.startswith("Maria Rivera") and "Instructor" in maria and "7.0" in maria
    assert sam.startswith("Sam Lee") and "3.5" in sam and "3 stays" in sam
    assert "09:17:05" in sam and "09:22:05" in sam, "first join, last leave (UTC fallback)"
    assert priya.startswith("Priya Patel") and "4.0" in priya


def test_each_persons_stays_are_behind_a_disclosure(meeting):
    html = meeting.page().get_data(as_text=True)
    sam = html[html.index("Sam Lee") : html.index("Priya Patel")]
    assert "<details" in sam and "<summary>3 stays" in sam
    assert sam.count("<li>") == 3


def test_a_person_still_in_a_live_meeting_shows_still_here(app, world):
    world.user("teacher", name="Maria Rivera")
    world.enable()
    channel = world.channel(teacher=ChannelRole.MANAGER)
    room = world.room_of(channel)
    teacher = as_user(app, "teacher")
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    with app.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id))
    page = teacher.get(f"/rooms/{room}/sessions/{session_id}/attendance")
    assert "Still here" in rows_of(page)[0]
    assert "live now" in text_of(page)


def test_times_are_valid_html_time_values_in_utc(meeting):
    html = meeting.page().get_data(as_text=True)
    values = re.findall(r'<time datetime="([^"]*)"', html)
    assert values, "the page has times"
    for value in values:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value), value
    assert "2026-11-28T09:16:05Z" in values, "seconds only, no microseconds"
    assert 'data-local="seconds"' in html, "static/js/time.js shows them in the viewer's zone"


def test_summary_csv_has_one_row_per_person(meeting):
    rows = meeting.csv("attendance-summary.csv")
    assert [r["username"] for r in rows] == ["teacher", "sam", "priya"]
    sam = rows[1]
    assert sam["first joined (UTC)"] == "2026-11-28T09:17:05Z"
    assert sam["last left (UTC)"] == "2026-11-28T09:22:05Z"
    assert sam["minutes present"] == "3.5"
    assert sam["stays"] == "3"
    assert sam["still in the room"] == "no"


def test_stays_csv_keeps_every_stay_in_utc(meeting):
    rows = meeting.csv("attendance.csv")
    assert len(rows) == 5
    assert [r["minutes"] for r in rows if r["username"] == "sam"] == ["1.0", "1.5", "1.0"]
    assert rows[0]["joined (UTC)"] == "2026-11-28T09:16:05Z"


def test_the_page_offers_both_downloads(meeting):
    page = meeting.page()
    assert "Summary (CSV)" in text_of(page) and "Every stay (CSV)" in text_of(page)
    html = page.get_data(as_text=True)
    assert f"{meeting.base}/attendance-summary.csv" in html
    assert f"{meeting.base}/attendance.csv" in html


def test_summary_csv_never_runs_formulas(app, world, meeting):
    with app.app_context():
        sam = db.session.scalar(sa.select(User).where(User.username == "sam"))
        sam.display_name = "@SUM(A1)"
        db.session.commit()
    rows = meeting.csv("attendance-summary.csv")
    assert rows[1]["name"] == "'@SUM(A1)"


def test_participants_cannot_read_the_summary(meeting):
    assert meeting.sam.get(f"{meeting.base}/attendance").status_code == 403
    assert meeting.sam.get(f"{meeting.base}/attendance-summary.csv").status_code == 403


def add_stay(app, session_id: int, username: str, joined_at, left_at) -> None:
    """A participant's stay in the meeting, written straight to the database."""
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.username == username))
        db.session.add(
            Participation(
                session_id=session_id,
                user_id=user_id,
                room_role=RoomRole.PARTICIPANT,
                joined_at=joined_at,
                left_at=left_at,
            )
        )
        db.session.commit()


def test_overlapping_stays_count_once(app, world, meeting):
    # Two tabs at once: Priya's second stay lies inside her first.
    add_stay(
        app,
        meeting.session,
        "priya",
        START + timedelta(minutes=3),
        START + timedelta(minutes=5),
    )
    priya_row = meeting.csv("attendance-summary.csv")[2]
    assert priya_row["minutes present"] == "4.0"
    assert priya_row["stays"] == "2"


def test_attendance_index_lists_meetings_with_local_times(meeting):
    page = meeting.teacher.get(f"/rooms/{meeting.room}/attendance")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<time datetime="2026-11-28T09:16:05Z" data-local="datetime">' in html
    assert "Times in" in text_of(page)


def test_a_pupil_set_as_moderator_is_listed_as_a_moderator(meeting):
    with meeting.app.app_context():
        priya = db.session.scalar(
            sa.select(Participation).join(User).where(User.username == "priya")
        )
        priya.room_role, priya.promoted = RoomRole.INSTRUCTOR, True
        db.session.commit()
    maria, sam, priya = rows_of(meeting.page())
    assert "Moderator" in priya and "Instructor" not in priya
    assert "Instructor" in maria, "staff are the instructors"
    assert "Participant" in sam
