"""In the live room: chat, hands, moderation, the waiting room, attendance, streams."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.models import ChatMessage, LiveSession, Participation, utcnow
from liveroom.roles import AppRole, ChannelRole
from liveroom.rooms import meetings
from tests.conftest import HTMX, as_user, open_stream, participants_of, text_of


class Room:
    """A live Biology 101 meeting: the teacher started it, Sam and Priya joined."""

    def __init__(self, app, world):
        world.user("teacher", name="Maria Rivera")
        world.user("sam", name="Sam Lee")
        world.user("priya", name="Priya Patel")
        world.user("late", name="Leo Late")
        world.enable()
        self.channel = world.channel(
            teacher=ChannelRole.MANAGER,
            sam=ChannelRole.MEMBER,
            priya=ChannelRole.MEMBER,
            late=ChannelRole.CONTRIBUTOR,
        )
        self.app = app
        self.id = world.room_of(self.channel)
        self.teacher = as_user(app, "teacher")
        self.sam = as_user(app, "sam")
        self.priya = as_user(app, "priya")
        self.late = as_user(app, "late")
        self.post(self.teacher, "start")
        self.post(self.sam, "join")
        self.post(self.priya, "join")
        with app.app_context():
            self.session = db.session.scalar(sa.select(LiveSession.id))

    def post(self, client, action, **data):
        return client.post(f"/rooms/{self.id}/{action}", data=data, headers=HTMX)

    def stream(self, client, last_event_id=None, **kwargs):
        if last_event_id is None:
            with self.app.app_context():
                last_event_id = newest_id()
        return open_stream(client, self.id, self.session, last_event_id, **kwargs)

    def participation(self, username):
        from liveroom.models import User

        with self.app.app_context():
            return db.session.scalar(
                sa.select(Participation.id)
                .join(User)
                .where(User.username == username, Participation.left_at.is_(None))
            )

    def page(self, client):
        return client.get(f"/rooms/{self.id}")


@pytest.fixture
def room(app, world):
    return Room(app, world)


# --- Chat -----------------------------------------------------------------------------


def test_chat_goes_both_ways_live(room):
    teacher_stream = room.stream(room.teacher)
    sam_stream = room.stream(room.sam)
    assert room.post(room.sam, "chat", body="Hello, is this on?").status_code == 200
    assert "Hello, is this on?" in teacher_stream.wait_for_text("Hello, is this on?").data
    room.post(room.teacher, "chat", body="Yes, welcome Sam")
    message = sam_stream.wait_for_text("Yes, welcome Sam")
    assert "Delete" not in message.data, "participants get no delete button"
    teacher_stream.close()
    sam_stream.close()


def test_chat_history_loads_on_join_last_100(room):
    with room.app.app_context():
        session = db.session.get(LiveSession, room.session)
        for n in range(105):
            db.session.add(ChatMessage(session_id=session.id, author_id=1, body=f"message {n:03}"))
        db.session.commit()
    room.post(room.late, "join")
    page = text_of(room.page(room.late))
    assert "message 104" in page and "message 005" in page
    assert "message 004" not in page


@pytest.mark.parametrize(
    "body, status, message",
    [
        ("", 422, "Write a message first."),
        ("   \n  ", 422, "Write a message first."),
        ("x" * 2001, 422, "Messages can be at most 2,000 characters (this one has 2,001)."),
    ],
)
def test_bad_chat_messages_get_a_clear_error_and_nothing_is_stored(room, body, status, message):
    response = room.post(room.sam, "chat", body=body)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    with room.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ChatMessage)) == 0


def test_a_2000_character_message_is_fine(room):
    assert room.post(room.sam, "chat", body="y" * 2000).status_code == 200


def test_chat_is_rendered_as_text_with_safe_links(room):
    stream = room.stream(room.teacher)
    room.post(
        room.sam, "chat", body="<img src=x onerror=alert(1)> see https://example.org/a?b=1&c=2."
    )
    message = stream.wait_for_text("example.org").data
    assert "<img" not in message
    assert "&lt;img src=x onerror=alert(1)&gt;" in message
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" dir="ltr" rel="noopener noreferrer nofollow ugc" target="_blank">'
        in message
    )
    assert "</a>." in message, "the full stop is not part of the link"
    stream.close()


def test_sending_too_fast_is_refused_with_a_clear_message(room):
    for n in range(5):
        assert room.post(room.sam, "chat", body=f"spam {n}").status_code == 200
    response = room.post(room.sam, "chat", body="one more")
    assert response.status_code == 429
    assert "You can send 5 messages every 5 seconds." in response.get_data(as_text=True)
    assert room.post(room.priya, "chat", body="I can still talk").status_code == 200


def test_instructor_deletes_a_message_for_everyone(room):
    room.post(room.sam, "chat", body="oops, wrong room")
    with room.app.app_context():
        message_id = db.session.scalar(sa.select(ChatMessage.id))
    stream = room.stream(room.priya)
    assert room.post(room.sam, f"chat/{message_id}/delete").status_code == 403
    assert room.post(room.teacher, f"chat/{message_id}/delete").status_code == 204
    assert stream.wait_for_text(f'<li id="msg-{message_id}" hx-swap-oob="delete">')
    assert "oops, wrong room" not in text_of(room.page(room.priya))
    stream.close()


def test_instructor_turns_participant_chat_off_and_on(room):
    stream = room.stream(room.sam)
    assert room.post(room.sam, "chat/enabled", enabled="0").status_code == 403
    room.post(room.teacher, "chat/enabled", enabled="0")
    assert stream.wait_for_text("The instructor has turned chat off for participants.")
    refused = room.post(room.sam, "chat", body="can I talk?")
    assert refused.status_code == 403
    assert "turned chat off" in refused.get_data(as_text=True)
    assert room.post(room.teacher, "chat", body="Instructors still can").status_code == 200
    room.post(room.teacher, "chat/enabled", enabled="1")
    assert stream.wait_for_text('id="chat-body"')
    assert room.post(room.sam, "chat", body="thanks!").status_code == 200
    stream.close()


def test_private_messages_reach_only_their_participant_and_the_instructors(room):
    teacher = room.stream(room.teacher)
    priya = room.stream(room.priya)
    sam = room.stream(room.sam)
    room.post(room.sam, "chat", body="I need help privately", to="instructors")
    assert "Private" in teacher.wait_for_text("I need help privately").data
    assert sam.wait_for_text("I need help privately")
    with room.app.app_context():
        from liveroom.models import User

        sam_id = db.session.scalar(sa.select(User.id).where(User.username == "sam"))
    room.post(room.teacher, "chat", body="Sure, what is it?", to=str(sam_id))
    assert sam.wait_for_text("Sure, what is it?")
    # Something everyone hears, after both: Priya's stream would have had them by then.
    room.post(room.teacher, "chat", body="Back to the lesson")
    heard = priya.before(lambda m: "Back to the lesson" in m.data)
    assert not any("privately" in m.data or "what is it" in m.data for m in heard)
    assert "I need help privately" not in text_of(room.page(room.priya))
    assert "I need help privately" in text_of(room.page(room.teacher))
    for stream in (teacher, priya, sam):
        stream.close()


# --- Hands ---------------------------------------------------------------------------


def test_raised_hands_show_in_arrival_order_and_instructors_lower_them(room):
    stream = room.stream(room.teacher)
    assert room.post(room.priya, "hand", raised="1").status_code == 204
    assert room.post(room.sam, "hand", raised="1").status_code == 204
    update = stream.wait_for(lambda m: "Sam Lee" in m.data.partition('id="hands-list"')[2])
    hands = update.data.split('id="hands-list"')[1]
    assert hands.index("Priya Patel") < hands.index("Sam Lee"), "first up, first listed"
    priya_id = room.participation("priya")
    assert room.post(room.sam, f"people/{priya_id}/hand/lower").status_code == 403
    assert room.post(room.teacher, f"people/{priya_id}/hand/lower").status_code == 204
    assert room.post(room.teacher, "hands/lower-all").status_code == 204
    assert stream.wait_for_text("No hands raised.")
    stream.close()


def test_participant_lowers_their_own_hand(room):
    room.post(room.sam, "hand", raised="1")
    assert "Lower my hand" in text_of(room.page(room.sam))
    room.post(room.sam, "hand", raised="0")
    assert "Raise hand" in text_of(room.page(room.sam))


@pytest.mark.parametrize("value", ["", "yes", "2"])
def test_hand_needs_a_clear_value(room, value):
    response = room.post(room.sam, "hand", raised=value)
    assert response.status_code == 400
    assert "“raised” must be 1 or 0." in text_of(response)


# --- Moderation ----------------------------------------------------------------------


def test_set_as_moderator_applies_live_and_survives_a_refresh(room):
    sam_stream = room.stream(room.sam)
    sam_id = room.participation("sam")
    assert room.post(room.priya, f"people/{sam_id}/role", role="instructor").status_code == 403
    assert room.post(room.teacher, f"people/{sam_id}/role", role="instructor").status_code == 204
    assert sam_stream.wait_for(lambda m: m.event == "refresh")
    assert "You are a moderator" in text_of(room.page(room.sam)), "kept after a refresh"
    # …and after leaving and coming back.
    room.post(room.sam, "leave")
    assert "You are a moderator" in text_of(room.post(room.sam, "join"))
    room.post(room.teacher, f"people/{room.participation('sam')}/role", role="participant")
    assert "You are a participant" in text_of(room.page(room.sam))
    sam_stream.close()


def test_removed_participant_is_told_and_cannot_rejoin_unless_admitted(room):
    sam_stream = room.stream(room.sam)
    sam_id = room.participation("sam")
    assert room.post(room.priya, f"people/{sam_id}/remove").status_code == 403
    assert room.post(room.teacher, f"people/{sam_id}/remove").status_code == 204
    assert sam_stream.wait_for(lambda m: m.event == "refresh")
    assert "You were removed from this meeting" in text_of(
        room.post(room.sam, f"join?session={room.session}&auto=1")
    )
    assert "You were removed" in text_of(room.post(room.sam, "join")), "no way back by Join"
    assert "Sam Lee" not in participants_of(room.page(room.teacher))
    # Asking to rejoin puts Sam in the waiting room; the teacher admits him.
    assert "You are in the waiting room" in text_of(room.post(room.sam, "ask"))
    page = room.page(room.teacher)
    assert "Sam Lee" in text_of(page).split("Waiting room")[1].split("Raised hands")[0]
    with room.app.app_context():
        from liveroom.models import WaitingEntry

        entry = db.session.scalar(sa.select(WaitingEntry.id))
    room.post(room.teacher, f"waiting/{entry}/admit")
    assert "You are a participant" in text_of(room.post(room.sam, "join"))
    sam_stream.close()


def test_nobody_can_demote_or_remove_a_private_rooms_owner(app, world):
    world.user("owner", AppRole.PRIVATE_ONLY, name="Olivia Owner")
    world.user("guest", name="Gus Guest")
    world.enable()
    room_id = world.private_room("owner", "Office hours")
    owner, guest = as_user(app, "owner"), as_user(app, "guest")
    owner.post(f"/rooms/{room_id}/start", headers=HTMX)
    guest.post(f"/rooms/{room_id}/join", headers=HTMX)
    with app.app_context():
        from liveroom.models import User

        rows = db.session.execute(
            sa.select(User.username, Participation.id).join(Participation.user)
        )
        ids = {username: participation_id for username, participation_id in rows}
    # Even someone made instructor by the owner cannot touch the owner.
    owner.post(
        f"/rooms/{room_id}/people/{ids['guest']}/role", data={"role": "instructor"}, headers=HTMX
    )
    for action, data in [("role", {"role": "participant"}), ("remove", {})]:
        response = guest.post(
            f"/rooms/{room_id}/people/{ids['owner']}/{action}", data=data, headers=HTMX
        )
        assert response.status_code == 403
    assert "You are an instructor" in text_of(owner.get(f"/rooms/{room_id}"))


def test_instructors_cannot_change_or_remove_themselves(room):
    me = room.participation("teacher")
    assert room.post(room.teacher, f"people/{me}/role", role="participant").status_code == 403
    assert room.post(room.teacher, f"people/{me}/remove").status_code == 403


def test_unknown_role_and_absent_people_get_clear_errors(room):
    sam_id = room.participation("sam")
    response = room.post(room.teacher, f"people/{sam_id}/role", role="king")
    assert response.status_code == 400
    assert "Choose instructor or participant." in text_of(response)
    response = room.post(room.teacher, "people/99999/remove")
    assert response.status_code == 404
    assert "not in the room any more" in text_of(response)


def test_locked_room_sends_newcomers_to_the_waiting_room_to_be_admitted(room):
    teacher_stream = room.stream(room.teacher)
    room.post(room.teacher, "lock", locked="1")
    assert teacher_stream.wait_for_text("Unlock room")
    waiting = room.post(room.late, "join")
    assert "The room is locked" in text_of(waiting)
    assert teacher_stream.wait_for_text("Leo Late")
    late_stream = room.stream(room.late)
    # People who were already in walk back in.
    room.post(room.sam, "leave")
    assert "You are a participant" in text_of(room.post(room.sam, "join"))
    with room.app.app_context():
        from liveroom.models import WaitingEntry

        entry = db.session.scalar(sa.select(WaitingEntry.id).where(WaitingEntry.decision.is_(None)))
    assert room.post(room.sam, f"waiting/{entry}/admit").status_code == 403
    assert room.post(room.teacher, f"waiting/{entry}/admit").status_code == 204
    assert late_stream.wait_for(lambda m: m.event == "refresh")
    assert "You are a participant" in text_of(
        room.post(room.late, f"join?session={room.session}&auto=1")
    )
    assert room.post(room.teacher, f"waiting/{entry}/deny").status_code == 409
    teacher_stream.close()
    late_stream.close()


def test_denied_newcomer_is_told_and_may_ask_again(room):
    room.post(room.teacher, "lock", locked="1")
    room.post(room.late, "join")
    with room.app.app_context():
        from liveroom.models import WaitingEntry

        entry = db.session.scalar(sa.select(WaitingEntry.id))
    room.post(room.teacher, f"waiting/{entry}/deny")
    assert "An instructor did not let you in" in text_of(
        room.post(room.late, f"join?session={room.session}&auto=1")
    )
    assert "The room is locked" in text_of(room.post(room.late, "ask"))


def test_admit_all_lets_everyone_waiting_in(room, world):
    world.user("late2", name="Lola Later")
    world.add_member(room.channel, "late2", ChannelRole.MEMBER)
    room.post(room.teacher, "lock", locked="1")
    late2 = as_user(room.app, "late2")
    room.post(room.late, "join")
    room.post(late2, "join")
    assert "Admit all (2)" in text_of(room.page(room.teacher))
    room.post(room.teacher, "waiting/admit-all")
    assert "You are a participant" in text_of(room.post(room.late, "join"))
    assert "You are a participant" in text_of(room.post(late2, "join"))


def test_actions_on_an_ended_meeting_are_refused_clearly(room):
    room.post(room.teacher, "end")
    for client, action, data in [
        (room.sam, "chat", {"body": "hello?"}),
        (room.sam, "hand", {"raised": "1"}),
        (room.teacher, "lock", {"locked": "1"}),
    ]:
        response = room.post(client, action, **data)
        assert response.status_code == 409
        assert "This meeting has ended." in text_of(response)


# --- The session ends by itself ------------------------------------------------------


def test_session_ends_after_15_minutes_without_an_instructor(room):
    room.post(room.teacher, "leave")
    with room.app.app_context():
        db.session.execute(
            sa.update(Participation)
            .where(Participation.room_role == "instructor")
            .values(left_at=utcnow() - timedelta(minutes=14))
        )
        db.session.commit()
        assert meetings.end_sessions_without_instructor() == 0
        db.session.execute(
            sa.update(Participation)
            .where(Participation.room_role == "instructor")
            .values(left_at=utcnow() - timedelta(minutes=15, seconds=1))
        )
        db.session.commit()
        assert meetings.end_sessions_without_instructor() == 1
    page = text_of(room.post(room.sam, f"join?session={room.session}&auto=1"))
    assert "no instructor was in the room for 15 minutes" in page


# --- Attendance ----------------------------------------------------------------------


def test_managers_see_attendance_and_download_it_as_csv(room):
    room.post(room.sam, "leave")
    room.post(room.sam, "join")
    room.post(room.teacher, "end")
    html = room.teacher.get(f"/rooms/{room.id}/sessions/{room.session}/attendance")
    page = text_of(html)
    assert "Attendance" in page and "Sam Lee" in page and "Priya Patel" in page
    response = room.teacher.get(f"/rooms/{room.id}/sessions/{room.session}/attendance.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    sam_rows = [r for r in rows if r["username"] == "sam"]
    assert len(sam_rows) == 2, "each stay is a row: joined, left, joined again"
    assert all(r["joined (UTC)"] and r["left (UTC)"] for r in rows)
    assert {r["room role"] for r in rows} == {"instructor", "participant"}


def test_participants_cannot_see_attendance(room):
    assert room.sam.get(f"/rooms/{room.id}/attendance").status_code == 403
    assert (
        room.sam.get(f"/rooms/{room.id}/sessions/{room.session}/attendance.csv").status_code == 403
    )


def test_attendance_csv_never_runs_formulas(app, world):
    world.user("teacher", name="Maria Rivera")
    world.user("evil", name='=HYPERLINK("http://x")')
    world.enable()
    channel = world.channel(teacher=ChannelRole.MANAGER, evil=ChannelRole.MEMBER)
    room_id = world.room_of(channel)
    teacher, evil = as_user(app, "teacher"), as_user(app, "evil")
    teacher.post(f"/rooms/{room_id}/start", headers=HTMX)
    evil.post(f"/rooms/{room_id}/join", headers=HTMX)
    with app.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id))
    body = teacher.get(f"/rooms/{room_id}/sessions/{session_id}/attendance.csv").get_data(
        as_text=True
    )
    assert "'=HYPERLINK" in body


# --- The stream ---------------------------------------------------------------------


def test_reconnect_with_last_event_id_receives_everything_missed(room):
    first = room.stream(room.priya)
    room.post(room.sam, "chat", body="before the drop")
    seen = first.wait_for_text("before the drop")
    first.close()
    for n in range(3):
        room.post(room.teacher if n % 2 else room.sam, "chat", body=f"missed {n}")
    again = room.stream(room.priya, last_event_id=0, headers={"Last-Event-ID": str(seen.id)})
    for n in range(3):
        assert again.wait_for_text(f"missed {n}")
    # The replay comes in log order, so a repeat would be ahead of the last one missed.
    replayed = again.before(lambda m: "missed 2" in m.data)
    assert not any("before the drop" in m.data for m in replayed)
    again.close()


def test_stream_sends_keep_alives_and_no_buffering_headers(room):
    response = room.sam.get(
        f"/live/rooms/{room.id}/stream", query_string={"session": room.session}, buffered=False
    )
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "no-cache" in response.headers["Cache-Control"]
    from tests.sse import StreamReader

    reader = StreamReader(response.response, on_close=response.close)
    # Heartbeat comments (every 0.3 s in tests) keep idle proxies from closing it.
    reader.wait_for_comments(2)
    reader.close()


def test_stream_needs_a_place_in_the_room(room, world):
    world.user("outsider")
    outsider = as_user(room.app, "outsider")
    response = outsider.get(f"/live/rooms/{room.id}/stream", query_string={"session": room.session})
    assert response.status_code == 403
    room.post(room.sam, "leave")
    # Not in the room any more: the stream only tells the page to re-read its state.
    body = room.sam.get(
        f"/live/rooms/{room.id}/stream", query_string={"session": room.session}
    ).get_data(as_text=True)
    assert "event: refresh" in body


def test_bad_last_event_id_is_a_400(room):
    response = room.sam.get(
        f"/live/rooms/{room.id}/stream",
        query_string={"session": room.session},
        headers={"Last-Event-ID": "yesterday"},
    )
    assert response.status_code == 400


def test_instructors_may_post_faster_but_not_without_limit(room):
    for n in range(15):
        assert room.post(room.teacher, "chat", body=f"step {n}").status_code == 200
    response = room.post(room.teacher, "chat", body="step 15")
    assert response.status_code == 429
    assert "You can send 15 messages every 5 seconds." in response.get_data(as_text=True)


# --- What a stream may keep hearing ------------------------------------------------------


def test_a_removed_persons_stream_is_ended_so_private_chat_cannot_leak_to_it(room):
    sam_id = room.participation("sam")
    room.post(room.teacher, f"people/{sam_id}/role", role="instructor")
    sam = room.stream(room.sam)  # Sam listening as an instructor
    room.post(room.teacher, f"people/{room.participation('sam')}/remove")
    assert sam.wait_for(lambda m: m.event == "refresh")
    assert sam.ended(), "the server hangs up: Sam must reconnect and be checked again"
    room.post(room.priya, "chat", body="private to the instructors", to="instructors")
    assert all("private to the instructors" not in m.data for m in sam.seen)


def test_role_change_ends_the_old_stream_so_rights_follow_the_new_role(room):
    sam = room.stream(room.sam)
    room.post(room.teacher, f"people/{room.participation('sam')}/role", role="instructor")
    assert sam.wait_for(lambda m: m.event == "refresh")
    assert sam.ended()


def test_a_deleted_message_is_not_replayed_to_latecomers(room):
    room.post(room.sam, "chat", body="my password is hunter2")
    room.post(room.sam, "chat", body="sorry, wrong window")
    with room.app.app_context():
        message_id = db.session.scalar(sa.select(sa.func.min(ChatMessage.id)))
    stream = room.stream(room.priya)
    room.post(room.teacher, f"chat/{message_id}/delete")
    stream.wait_for_text("delete")
    stream.close()
    replay = room.stream(room.priya, last_event_id=0)
    # Posted after the replay was read, so it comes after all of it.
    room.post(room.teacher, "chat", body="Now, where were we?")
    replayed = replay.before(lambda m: "Now, where were we?" in m.data)
    assert any("sorry, wrong window" in m.data for m in replayed), "the replay was read"
    assert all("hunter2" not in m.data for m in replayed)
    replay.close()


def test_a_head_request_leaves_no_listener_behind(room):
    from liveroom.live.hub import hub_of

    before = hub_of(room.app).listener_count()
    response = room.sam.head(
        f"/live/rooms/{room.id}/stream", query_string={"session": room.session}
    )
    assert response.status_code == 200
    assert hub_of(room.app).listener_count() == before


def test_someone_denied_then_let_in_another_way_is_not_sent_back_to_denied(room):
    room.post(room.teacher, "lock", locked="1")
    room.post(room.late, "join")
    with room.app.app_context():
        from liveroom.models import WaitingEntry

        entry = db.session.scalar(sa.select(WaitingEntry.id))
    room.post(room.teacher, f"waiting/{entry}/deny")
    room.post(room.teacher, "lock", locked="0")
    assert "You are a participant" in text_of(room.post(room.late, "ask"))
    assert "You are a participant" in text_of(
        room.post(room.late, f"join?session={room.session}&auto=1")
    )
    assert "Nobody is waiting." in text_of(room.page(room.teacher))


def test_a_demoted_manager_cannot_end_the_meeting_by_stepping_out(room, world):
    world.user("co", name="Cora Colleague")
    world.add_member(room.channel, "co", ChannelRole.MODERATOR)
    co = as_user(room.app, "co")
    room.post(co, "join")
    # A channel Moderator is staff: nobody in the room demotes her; her channel can.
    demote = room.post(room.teacher, f"people/{room.participation('co')}/role", role="participant")
    assert demote.status_code == 403
    cli = room.app.test_cli_runner()
    result = cli.invoke(args=["channels", "add-member", "Biology 101", "co", "--role", "member"])
    assert result.exit_code == 0, result.output
    room.post(co, "leave")
    response = room.post(co, "end")
    assert response.status_code == 403
    with room.app.app_context():
        assert db.session.get(LiveSession, room.session).ended_at is None


@pytest.mark.parametrize(
    "url, data, status",
    [
        ("chat", {"body": "hi", "to": "²"}, 400),
        ("chat", {"body": "hi", "to": "99999999999999999999999"}, 400),
        ("people/99999999999999999999999/remove", {}, 404),
        ("chat/99999999999999999999999/delete", {}, 404),
    ],
)
def test_odd_numbers_get_clear_errors_not_server_errors(room, url, data, status):
    assert room.post(room.teacher, url, **data).status_code == status


@pytest.mark.parametrize("session", ["abc", "99999999999999999999999", "-1"])
def test_odd_session_numbers_on_join_and_stream_are_a_400(room, session):
    assert (
        room.sam.post(f"/rooms/{room.id}/join?session={session}", headers=HTMX).status_code == 400
    )
    response = room.sam.get(f"/live/rooms/{room.id}/stream", query_string={"session": session})
    assert response.status_code == 400


def test_a_removed_person_or_another_rooms_meeting_opens_no_stream(room, world):
    # The stream reads the meeting with the person's stay in one statement: someone
    # removed has no stay (only a refresh), and a meeting of another room is not this
    # room's (404), even for someone in that other meeting.
    room.post(room.teacher, f"people/{room.participation('sam')}/remove")
    body = room.sam.get(
        f"/live/rooms/{room.id}/stream", query_string={"session": room.session}
    ).get_data(as_text=True)
    assert "event: refresh" in body and "event: room" not in body
    answer = room.priya.get(
        f"/live/rooms/{room.id}/stream", query_string={"session": room.session + 1000}
    )
    assert answer.status_code == 404
