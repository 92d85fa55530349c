"""Live captions (WCAG 2.2, 1.2.4): an instructor names a captioner, whose lines appear
under the stage for everyone; one captioner at a time; captioning stops when they stop,
are stopped, leave, are removed or the meeting ends. Kept with the chat for the
retention period, and covered by a person's export and erasure."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from liveroom import retention
from liveroom.extensions import db
from liveroom.models import AuditEntry, Caption, LiveSession, Participation, User, utcnow
from liveroom.rooms import meetings, presence
from tests.conftest import as_user, text_of
from tests.test_live_room import Room


@pytest.fixture
def room(app, world):
    return Room(app, world)


def person_row(response, name: str) -> str:
    html = response.get_data(as_text=True)
    rows = re.findall(r'<li id="person-\d+" class="person".*?</li>', html, flags=re.S)
    found = [row for row in rows if f'data-name="{name}"' in row]
    assert found, f"no row for {name}"
    return found[0]


def captions_of(response) -> str:
    """The visible text of the captions area under the stage."""
    html = response.get_data(as_text=True)
    match = re.search(r'<section class="captions".*?</section>', html, flags=re.S)
    assert match, "the room has no captions area"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(0)).split())


def name_captioner(room, client, username, on="1"):
    return room.post(client, f"people/{room.participation(username)}/captioner", on=on)


def captioner(room) -> str | None:
    with room.app.app_context():
        user_id = db.session.get(LiveSession, room.session).captioner_id
        return db.session.get(User, user_id).username if user_id else None


def captions_stored(room) -> list[str]:
    with room.app.app_context():
        return list(db.session.scalars(sa.select(Caption.body).order_by(Caption.id)))


# --- Naming a captioner and writing captions -------------------------------------------


def test_teacher_names_a_captioner_and_everyone_sees_their_lines_live(room):
    priya_stream = room.stream(room.priya)
    sam_stream = room.stream(room.sam)
    assert name_captioner(room, room.teacher, "sam").status_code == 204
    named = priya_stream.wait_for_text("Captions by")
    assert "<bdi>Sam Lee</bdi>" in named.data
    assert "caption-body" not in named.data, "only the captioner gets the composer"
    assert "caption-body" in sam_stream.wait_for_text("caption-body").data
    assert room.post(room.sam, "captions", body="Today: photosynthesis.").status_code == 200
    line = priya_stream.wait_for_text("Today: photosynthesis.")
    assert 'hx-swap-oob="beforeend"' in line.data and 'id="captions-log"' in line.data
    assert 'dir="auto"' in line.data
    # The teacher's page, drawn afresh, shows the line and who writes them.
    shown = captions_of(room.page(room.teacher))
    assert "Captions by Sam Lee" in shown and "Today: photosynthesis." in shown
    priya_stream.close()
    sam_stream.close()


def test_the_captions_area_is_a_log_under_the_stage_and_the_composer_is_labelled(room):
    name_captioner(room, room.teacher, "sam")
    html = room.page(room.sam).get_data(as_text=True)
    assert html.index('id="stage"') < html.index('id="captions"') < html.index("media-bar")
    assert re.search(
        r'<div class="captions__window" role="log"[^>]*>\s*<ol class="captions__log" id="captions-log"',
        html,
    )
    assert '<label for="caption-body"' in html and 'maxlength="500"' in html
    assert "caption-body" not in room.page(room.priya).get_data(as_text=True)


def test_people_who_join_late_see_the_recent_lines(room):
    name_captioner(room, room.teacher, "sam")
    for n in range(3):
        room.post(room.sam, "captions", body=f"line {n}")
    room.post(room.late, "join")
    shown = captions_of(room.page(room.late))
    assert "line 0" in shown and "line 2" in shown and "Captions by Sam Lee" in shown


def test_the_people_menu_offers_make_captioner_then_stop_captions(room):
    row = person_row(room.page(room.teacher), "Sam Lee")
    assert "Make captioner" in row and "Stop captions" not in row
    name_captioner(room, room.teacher, "sam")
    row = person_row(room.page(room.teacher), "Sam Lee")
    assert "Stop captions" in row and "Make captioner" not in row
    assert ">Captioner<" in row
    assert ">Captioner<" in person_row(room.page(room.priya), "Sam Lee"), "everyone sees who"
    assert "person-menu" not in person_row(room.page(room.priya), "Sam Lee")


def test_the_people_lists_follow_a_new_captioner_live(room):
    teacher_stream = room.stream(room.teacher)
    name_captioner(room, room.teacher, "priya")
    update = teacher_stream.wait_for(
        lambda m: 'id="people-list"' in m.data and "Captioner" in m.data
    )
    priya_item = re.search(r'data-name="Priya Patel".*?</li>', update.data, re.S).group(0)
    assert "Stop captions" in priya_item
    teacher_stream.close()


def test_naming_another_replaces_the_captioner(room):
    name_captioner(room, room.teacher, "sam")
    sam_stream = room.stream(room.sam)
    assert name_captioner(room, room.teacher, "priya").status_code == 204
    assert captioner(room) == "priya"
    # Sam's composer goes: his page gets an empty box in its place.
    emptied = sam_stream.wait_for_text("Captions by")
    assert "<bdi>Priya Patel</bdi>" in emptied.data and "caption-body" not in emptied.data
    refused = room.post(room.sam, "captions", body="still me?")
    assert refused.status_code == 403
    assert "Only the captioner an instructor named can write captions." in text_of(refused)
    assert room.post(room.priya, "captions", body="my turn").status_code == 200
    assert captions_stored(room) == ["my turn"]
    sam_stream.close()


def test_naming_the_same_captioner_twice_changes_nothing_the_second_time(room):
    assert name_captioner(room, room.teacher, "sam").status_code == 204
    assert name_captioner(room, room.teacher, "sam").status_code == 204
    with room.app.app_context():
        named = db.session.scalar(
            sa.select(sa.func.count()).where(AuditEntry.action == "room.captioner_named")
        )
    assert named == 1


# --- Who may ------------------------------------------------------------------------------


def test_participants_cannot_name_a_captioner_or_write_captions(room):
    refused = name_captioner(room, room.priya, "sam")
    assert refused.status_code == 403
    assert "Only the room's instructors and moderators can do that." in text_of(refused)
    assert captioner(room) is None
    refused = room.post(room.sam, "captions", body="hello")
    assert refused.status_code == 403
    assert "Only the captioner an instructor named can write captions." in text_of(refused)
    assert captions_stored(room) == []


def test_a_moderator_names_participants_but_not_instructors(room):
    sam = room.participation("sam")
    assert room.post(room.teacher, f"people/{sam}/role", role="instructor").status_code == 204
    assert name_captioner(room, room.sam, "priya").status_code == 204
    assert captioner(room) == "priya"
    refused = name_captioner(room, room.sam, "teacher")
    assert refused.status_code == 403
    assert "Nobody in the room can make an instructor the captioner." in text_of(refused)
    assert "You cannot make yourself the captioner." in text_of(
        name_captioner(room, room.sam, "sam")
    )
    assert captioner(room) == "priya"


def test_nobody_makes_a_staff_instructor_the_captioner(room):
    refused = name_captioner(room, room.teacher, "teacher")
    assert refused.status_code == 403
    assert "You cannot make yourself the captioner." in text_of(refused)
    assert "person-menu" not in person_row(room.page(room.teacher), "Maria Rivera")


def test_someone_not_in_the_room_cannot_be_named(room):
    gone = room.participation("priya")
    room.post(room.priya, "leave")
    refused = room.post(room.teacher, f"people/{gone}/captioner", on="1")
    assert refused.status_code == 404
    assert "That person is not in the room any more." in text_of(refused)
    assert room.post(room.teacher, "people/999999/captioner", on="1").status_code == 404


def test_the_menu_needs_a_clear_on_value(room):
    refused = room.post(room.teacher, f"people/{room.participation('sam')}/captioner", on="yes")
    assert refused.status_code == 400
    assert "“on” must be 1 or 0." in text_of(refused)


# --- Stopping ----------------------------------------------------------------------------


def test_an_instructor_stops_captions_from_the_menu(room):
    name_captioner(room, room.teacher, "sam")
    priya_stream = room.stream(room.priya)
    assert name_captioner(room, room.teacher, "sam", on="0").status_code == 204
    assert captioner(room) is None
    assert "Captions have stopped." in priya_stream.wait_for_text("Captions have stopped.").data
    assert room.post(room.sam, "captions", body="too late").status_code == 403
    again = name_captioner(room, room.teacher, "sam", on="0")
    assert again.status_code == 409
    assert "That person is not writing the captions any more." in text_of(again)
    with room.app.app_context():
        actions = list(
            db.session.scalars(
                sa.select(AuditEntry.action)
                .where(AuditEntry.action.like("room.captioner%"))
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["room.captioner_named", "room.captioner_stopped"]
    priya_stream.close()


def test_the_captioner_stops_themselves_and_nobody_else_may(room):
    name_captioner(room, room.teacher, "sam")
    refused = room.post(room.priya, "captions/stop")
    assert refused.status_code == 403
    assert "Only the captioner and the room's instructors can stop the captions." in text_of(
        refused
    )
    assert "Stop captioning" in captions_of(room.page(room.sam))
    assert room.post(room.sam, "captions/stop").status_code == 204
    assert captioner(room) is None
    already = room.post(room.teacher, "captions/stop")
    assert already.status_code == 409 and "Captions are off already." in text_of(already)
    with room.app.app_context():  # one's own stop is not a moderation action
        assert not db.session.scalar(
            sa.select(sa.func.count()).where(AuditEntry.action == "room.captioner_stopped")
        )


def test_captions_stop_when_the_captioner_leaves(room):
    name_captioner(room, room.teacher, "sam")
    teacher_stream = room.stream(room.teacher)
    room.post(room.sam, "leave")
    assert captioner(room) is None
    assert "Captions have stopped." in teacher_stream.wait_for_text("Captions have stopped.").data
    room.post(room.sam, "join")
    assert room.post(room.sam, "captions", body="back").status_code == 403, "not named again"
    teacher_stream.close()


def test_captions_stop_when_the_captioner_is_removed(room):
    name_captioner(room, room.teacher, "sam")
    assert room.post(room.teacher, f"people/{room.participation('sam')}/remove").status_code == 204
    assert captioner(room) is None


def test_captions_stop_when_the_captioners_page_stops_answering(room, app):
    name_captioner(room, room.teacher, "sam")
    with app.app_context():
        stale = utcnow() - timedelta(minutes=5)
        db.session.execute(
            sa.update(Participation)
            .where(Participation.id == room.participation("sam"))
            .values(last_seen_at=stale)
        )
        db.session.commit()
        assert presence.sweep_absent(30) == 1
    assert captioner(room) is None


def test_captions_stop_when_the_meeting_ends_and_its_lines_stay(room):
    name_captioner(room, room.teacher, "sam")
    room.post(room.sam, "captions", body="The end.")
    assert room.post(room.teacher, "end").status_code < 400
    with room.app.app_context():
        session = db.session.get(LiveSession, room.session)
        assert session.ended_at is not None and session.captioner_id is None
    assert captions_stored(room) == ["The end."]
    refused = room.post(room.sam, "captions", body="after")
    assert refused.status_code == 409


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, status, message",
    [
        ("", 422, "Write a caption first."),
        ("  \n\t ", 422, "Write a caption first."),
        ("\u200b\u200e", 422, "Write a caption first."),
        ("x" * 501, 422, "A caption can be at most 500 characters (this one has 501)."),
    ],
)
def test_bad_caption_lines_get_a_clear_error_and_nothing_is_stored(room, body, status, message):
    name_captioner(room, room.teacher, "sam")
    response = room.post(room.sam, "captions", body=body)
    assert response.status_code == status
    assert message in text_of(response)
    assert captions_stored(room) == []


def test_a_500_character_line_is_fine_and_control_characters_are_taken_out(room):
    name_captioner(room, room.teacher, "sam")
    assert room.post(room.sam, "captions", body="y" * 500).status_code == 200
    assert room.post(room.sam, "captions", body="a\x00b\x07c\r\nnext   line").status_code == 200
    assert captions_stored(room) == ["y" * 500, "abc next line"]


def test_captions_are_text_never_markup(room):
    name_captioner(room, room.teacher, "sam")
    stream = room.stream(room.priya)
    room.post(room.sam, "captions", body="<img src=x onerror=alert(1)>")
    line = stream.wait_for_text("onerror").data
    assert "<img" not in line and "&lt;img src=x onerror=alert(1)&gt;" in line
    stream.close()


def test_writing_captions_too_fast_is_refused_with_a_clear_message(room):
    name_captioner(room, room.teacher, "sam")
    for n in range(10):
        assert room.post(room.sam, "captions", body=f"line {n}").status_code == 200
    refused = room.post(room.sam, "captions", body="one more")
    assert refused.status_code == 429
    assert "You can send 10 caption lines every 5 seconds." in text_of(refused)
    assert len(captions_stored(room)) == 10


def test_someone_outside_the_meeting_cannot_write_captions(room):
    refused = room.post(room.late, "captions", body="hello")
    assert refused.status_code == 403
    assert "Join the meeting to write captions." in text_of(refused)


# --- Retention and personal data ------------------------------------------------------------


def test_captions_are_pruned_with_the_chat_after_the_retention_period(room, app, runner):
    name_captioner(room, room.teacher, "sam")
    room.post(room.sam, "captions", body="kept for a year")
    room.post(room.sam, "chat", body="a message")
    room.post(room.teacher, "end")
    # Another meeting, still live, keeps its lines whatever their age.
    room.post(room.teacher, "start")
    room.post(room.sam, "join")
    name_captioner(room, room.teacher, "sam")
    with app.app_context():
        live = db.session.scalar(sa.select(LiveSession.id).where(LiveSession.ended_at.is_(None)))
    room.post(room.sam, "captions", body="live line")
    with app.app_context():
        days = app.config["LIVEROOM_RETENTION_DAYS"]
        db.session.execute(
            sa.update(LiveSession)
            .where(LiveSession.id == room.session)
            .values(ended_at=utcnow() - timedelta(days=days - 1))
        )
        db.session.commit()
        assert retention.prune(batches=None).captions == 0, "not yet"
        db.session.execute(
            sa.update(LiveSession)
            .where(LiveSession.id == room.session)
            .values(ended_at=utcnow() - timedelta(days=days + 1))
        )
        db.session.execute(sa.update(Caption).values(created_at=utcnow() - timedelta(days=800)))
        db.session.commit()
    output = runner.invoke(args=["prune"]).output
    assert "1 chat messages" in output and "1 caption lines" in output
    with app.app_context():
        left = db.session.execute(sa.select(Caption.session_id, Caption.body)).all()
    assert left == [(live, "live line")]


def test_a_persons_export_holds_their_captions_and_roles_and_erasure_removes_the_lines(
    room, app, runner
):
    name_captioner(room, room.teacher, "sam")
    room.post(room.sam, "captions", body="what Sam typed")
    room.post(room.sam, "leave")
    exported = runner.invoke(args=["people", "export", "sam"])
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.output[exported.output.index("{") :])
    assert [c["text"] for c in data["captions_written"]] == ["what Sam typed"]
    assert [r["meeting"] for r in data["captioner_roles"]] == [room.session]
    assert data["captioner_roles"][0]["named_at"]
    teacher_export = json.loads(
        (out := runner.invoke(args=["people", "export", "teacher"]).output)[out.index("{") :]
    )
    assert teacher_export["captions_written"] == [] and teacher_export["captioner_roles"] == []
    # The meeting goes on: the teacher's page drops Sam's lines when he is erased.
    teacher_stream = room.stream(room.teacher)
    erased = runner.invoke(args=["people", "erase", "sam", "--yes"])
    assert erased.exit_code == 0, erased.output
    assert captions_stored(room) == []
    update = teacher_stream.wait_for(
        lambda m: 'id="captions-log" hx-swap-oob="innerHTML"' in m.data
    )
    assert "what Sam typed" not in update.data
    assert "what Sam typed" not in captions_of(room.page(room.teacher))
    teacher_stream.close()


def test_a_late_page_never_replays_an_erased_line(room, runner):
    name_captioner(room, room.teacher, "sam")
    with room.app.app_context():
        from liveroom.events import newest_id

        before = newest_id()
    room.post(room.sam, "captions", body="soon gone")
    room.post(room.sam, "leave")
    runner.invoke(args=["people", "erase", "sam", "--yes"])
    stream = room.stream(room.priya, last_event_id=before)
    stream.wait_for(lambda m: 'id="captions-log" hx-swap-oob="innerHTML"' in m.data)
    assert not any("soon gone" in m.data for m in stream.seen)
    stream.close()


def test_meetings_module_clears_the_captioner_as_it_ends(room, app):
    name_captioner(room, room.teacher, "sam")
    with app.app_context():
        session = db.session.get(LiveSession, room.session)
        meetings.end_session(session, None, reason="no_instructor")
        assert db.session.get(LiveSession, room.session).captioner_id is None


def test_text_of_the_page_names_the_captioner_for_everyone(room):
    name_captioner(room, room.teacher, "sam")
    assert "Captions by Sam Lee" in text_of(room.page(as_user(room.app, "priya")))
