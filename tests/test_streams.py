"""Streams per person: at most five open room streams per person per meeting, counted
across workers. A sixth closes the oldest, whose tab says "This room is open in
another tab" and stays closed until its "Use the room here" button is pressed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from liveroom.events import Kind, newest_id
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.live.slots import OPENS_PER_MINUTE, STREAMS_PER_PERSON
from liveroom.models import Event, LiveSession, RoomStream, User, utcnow
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, World, as_user, make_app, open_stream, text_of
from tests.waiting import wait_until


class Meeting:
    """Biology 101 is live: the teacher started it and Sam joined."""

    def __init__(self, app, world: World) -> None:
        world.user("teacher", name="Maria Rivera")
        world.user("sam", name="Sam Lee")
        world.enable()
        self.app = app
        self.id = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
        self.teacher = as_user(app, "teacher")
        self.sam = as_user(app, "sam")
        self.teacher.post(f"/rooms/{self.id}/start", headers=HTMX)
        self.sam.post(f"/rooms/{self.id}/join", headers=HTMX)
        with app.app_context():
            self.session = db.session.scalar(sa.select(LiveSession.id))

    def tab(self, client=None, app=None):
        """One more open tab of the room: its stream, from the newest event on."""
        app = app or self.app
        client = client or self.sam
        with app.app_context():
            since = newest_id()
        return open_stream(client, self.id, self.session, since)

    def chat(self, body: str) -> None:
        response = self.teacher.post(f"/rooms/{self.id}/chat", data={"body": body}, headers=HTMX)
        assert response.status_code == 200

    def open_slots(self, username: str = "sam") -> int:
        with self.app.app_context():
            return db.session.scalar(
                sa.select(sa.func.count())
                .select_from(RoomStream)
                .join(User, RoomStream.user_id == User.id)
                .where(User.username == username, RoomStream.closed_at.is_(None))
            )


@pytest.fixture
def meeting(app, world):
    return Meeting(app, world)


def displaced(message) -> bool:
    return message.event == "displaced"


def test_a_sixth_tab_closes_the_oldest_which_says_why(meeting):
    tabs = [meeting.tab() for _ in range(STREAMS_PER_PERSON)]
    sixth = meeting.tab()
    told = tabs[0].wait_for(displaced, timeout=10)
    assert "This room is open in another tab" in told.data
    assert "Use the room here" in told.data
    assert tabs[0].ended(timeout=10), "the server hangs up on the displaced tab"
    meeting.chat("still with us?")
    for tab in [*tabs[1:], sixth]:
        tab.wait_for_text("still with us?", timeout=10)
        assert not any(displaced(m) for m in tab.seen)
    assert meeting.open_slots() == STREAMS_PER_PERSON
    for tab in [*tabs[1:], sixth]:
        tab.close()


def test_five_tabs_of_one_person_do_not_crowd_out_another(meeting):
    tabs = [meeting.tab() for _ in range(STREAMS_PER_PERSON)]
    teacher_tab = meeting.tab(meeting.teacher)
    meeting.chat("everyone here")
    for tab in [*tabs, teacher_tab]:
        tab.wait_for_text("everyone here", timeout=10)
        assert not any(displaced(m) for m in tab.seen)
    for tab in [*tabs, teacher_tab]:
        tab.close()


def test_tabs_are_counted_across_workers(tmp_path):
    # Two app instances on one SQLite file are what two gunicorn workers are.
    first = make_app(tmp_path)
    second = make_app(tmp_path)
    try:
        meeting = Meeting(first, World(first))
        on_second = as_user(second, "sam")
        oldest = meeting.tab()
        tabs = [meeting.tab() for _ in range(2)]
        tabs += [meeting.tab(on_second, second) for _ in range(3)]
        # The sixth tab was opened through the second worker; the first one says so.
        assert "This room is open in another tab" in oldest.wait_for(displaced, timeout=10).data
        assert oldest.ended(timeout=10)
        assert meeting.open_slots() == STREAMS_PER_PERSON
        for tab in tabs:
            tab.close()
    finally:
        hub_of(first).stop()
        hub_of(second).stop()


def test_two_tabs_opening_at_once_still_leave_five(meeting):
    tabs = [meeting.tab() for _ in range(STREAMS_PER_PERSON - 1)]
    barrier = threading.Barrier(3)
    opened = []

    def open_one():
        client = as_user(meeting.app, "sam")
        barrier.wait(timeout=10)
        opened.append(meeting.tab(client))

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(opened) == 3
    # Seven asked for, five kept: the two oldest were told, whoever raced whom.
    tabs[0].wait_for(displaced, timeout=10)
    tabs[1].wait_for(displaced, timeout=10)
    assert meeting.open_slots() == STREAMS_PER_PERSON
    # Displacements are events in the log: any other would be ahead of this message.
    meeting.chat("who is still here?")
    for tab in [*tabs[2:], *opened]:
        assert not any(displaced(m) for m in tab.before(lambda m: "who is still here?" in m.data))
        tab.close()


def test_using_the_room_here_takes_it_back_from_the_oldest_other_tab(meeting):
    tabs = [meeting.tab() for _ in range(STREAMS_PER_PERSON + 1)]
    tabs[0].wait_for(displaced, timeout=10)
    # "Use the room here" asks for this tab's room again: the panel, with a new stream…
    again = meeting.sam.post(
        f"/rooms/{meeting.id}/join",
        query_string={"session": meeting.session, "auto": 1},
        headers=HTMX,
    )
    assert "You are a participant" in text_of(again)
    back = meeting.tab()
    # …which now displaces the oldest of the others.
    tabs[1].wait_for(displaced, timeout=10)
    meeting.chat("welcome back")
    back.wait_for_text("welcome back", timeout=10)
    for tab in [*tabs[2:], back]:
        tab.close()


def test_a_tab_whose_worker_stopped_answering_does_not_count(meeting):
    # Five slots left behind by a worker that crashed: nobody refreshed them since.
    with meeting.app.app_context():
        sam = db.session.scalar(sa.select(User.id).where(User.username == "sam"))
        long_ago = utcnow() - timedelta(minutes=5)
        for _ in range(STREAMS_PER_PERSON):
            db.session.add(
                RoomStream(
                    session_id=meeting.session, user_id=sam, opened_at=long_ago, seen_at=long_ago
                )
            )
        db.session.commit()
    tab = meeting.tab()
    assert meeting.open_slots() == 1, "the stale ones are closed, and nobody is displaced"
    with meeting.app.app_context():
        kinds = db.session.scalars(sa.select(Event.kind).where(Event.kind == "stream_displaced"))
        assert list(kinds) == []
    tab.close()


def test_a_closed_tab_gives_its_slot_back(meeting):
    tab = meeting.tab()
    assert meeting.open_slots() == 1
    tab.close()
    hub = hub_of(meeting.app)
    wait_until(lambda: hub.listener_count() == 0, message="the closed tab still listens")
    hub.keep_present()  # the upkeep's write, which runs every few seconds by itself
    assert meeting.open_slots() == 0


def test_an_open_tab_keeps_its_slot_fresh(meeting):
    tab = meeting.tab()
    with meeting.app.app_context():
        db.session.execute(sa.update(RoomStream).values(seen_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    hub_of(meeting.app).keep_present()
    with meeting.app.app_context():
        seen = db.session.scalar(sa.select(RoomStream.seen_at))
    assert utcnow() - seen < timedelta(minutes=1)
    tab.close()


# --- A loop of opens, and old slots ------------------------------------------------------


def displaced_events(meeting) -> int:
    with meeting.app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(Event).where(Event.kind == Kind.STREAM_DISPLACED)
        )


def open_response(meeting, client):
    """One open of the room's stream, whatever the answer."""
    return client.get(
        f"/live/rooms/{meeting.id}/stream",
        query_string={"session": meeting.session},
        buffered=False,
    )


def open_and_hang_up(meeting, times: int) -> None:
    """Sam's loop: open the stream and hang up at once, ``times`` times."""
    for _ in range(times):
        response = open_response(meeting, meeting.sam)
        assert response.status_code == 200
        response.close()


def test_the_thirty_first_open_within_a_minute_is_refused_and_tells_nobody(meeting):
    open_and_hang_up(meeting, OPENS_PER_MINUTE)
    events_before = displaced_events(meeting)
    refused = open_response(meeting, meeting.sam)
    assert refused.status_code == 429
    assert "opened too often in the last minute" in text_of(refused)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert displaced_events(meeting) == events_before
    # Someone else in the same meeting opens theirs as usual.
    meeting.tab(meeting.teacher).close()


def test_opening_works_again_once_the_minute_has_passed(meeting):
    open_and_hang_up(meeting, OPENS_PER_MINUTE)
    assert open_response(meeting, meeting.sam).status_code == 429
    with meeting.app.app_context():
        db.session.execute(sa.update(RoomStream).values(opened_at=utcnow() - timedelta(seconds=61)))
        db.session.commit()
    tab = meeting.tab()
    meeting.chat("back again")
    tab.wait_for_text("back again", timeout=10)
    tab.close()


def test_upkeep_deletes_slots_closed_for_a_day_and_keeps_open_ones(meeting):
    now = utcnow()
    days_ago = now - timedelta(days=3)
    with meeting.app.app_context():
        sam = db.session.scalar(sa.select(User.id).where(User.username == "sam"))
        slots = {
            "closed 2 days ago": dict(seen_at=days_ago, closed_at=now - timedelta(days=2)),
            "closed an hour ago": dict(seen_at=days_ago, closed_at=now - timedelta(hours=1)),
            "open for 3 days, still listening": dict(seen_at=now),
            "left open by a worker that stopped 2 days ago": dict(seen_at=now - timedelta(days=2)),
        }
        ids = {}
        for name, times in slots.items():
            slot = RoomStream(session_id=meeting.session, user_id=sam, opened_at=days_ago, **times)
            db.session.add(slot)
            db.session.flush()
            ids[slot.id] = name
        db.session.commit()
    hub = hub_of(meeting.app)
    hub.next_forget = 0.0  # its once-a-minute tidy is due
    hub.sweep()  # the upkeep's sweep, which one worker at a time runs every 5 s
    with meeting.app.app_context():
        kept = {ids[slot_id] for slot_id in db.session.scalars(sa.select(RoomStream.id))}
    assert kept == {"closed an hour ago", "open for 3 days, still listening"}


# --- In a real browser ------------------------------------------------------------------


@pytest.mark.browser
def test_a_tab_displaced_by_a_sixth_stays_quiet_until_asked_to_take_the_room_back(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests import live_server
    from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app, open_link, serve

    app = demo_app(tmp_path)

    def student_slots() -> int:
        with app.app_context():
            return db.session.scalar(
                sa.select(sa.func.count())
                .select_from(RoomStream)
                .join(User, RoomStream.user_id == User.id)
                .where(User.username == "student1", RoomStream.closed_at.is_(None))
            )

    with serve(app) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def log_in(username: str, password: str):
            # One browser profile per tab: each has its own connections to the server
            # (a browser allows six per host, and five tabs would hold five streams).
            return live_server.log_in(browser, base_url, username, password)

        teacher = log_in("teacher", "liveroom-teacher")
        open_link(teacher, "Biology 101")
        teacher.get_by_role("button", name="Start Meeting").click()
        expect(teacher.get_by_text("You are an instructor")).to_be_visible()
        channel_url = teacher.url

        tabs = []
        for _ in range(STREAMS_PER_PERSON + 1):
            tab = log_in("student1", "liveroom-student")
            tab.goto(channel_url)
            # The first tab joins; the others find her in the room already.
            join = tab.get_by_role("button", name="Join Meeting")
            inside = tab.get_by_text("You are a participant")
            expect(join.or_(inside)).to_be_visible(timeout=10_000)
            if join.is_visible():
                join.click()
            expect(inside).to_be_visible(timeout=10_000)
            tabs.append(tab)

        first = tabs[0]
        notice = first.get_by_role("heading", name="This room is open in another tab")
        expect(notice).to_be_visible(timeout=10_000)
        expect(notice).to_be_focused()
        # It does not reconnect by itself (were it to, it would displace another tab):
        # while the other five receive a message, it stays as it is.
        teacher.get_by_role("textbox", name="Message").fill("still with us?")
        teacher.keyboard.press("Enter")
        for tab in tabs[1:]:
            expect(tab.get_by_text("still with us?")).to_be_visible(timeout=10_000)
        for tab in tabs[1:]:
            assert tab.get_by_text("This room is open in another tab").count() == 0
        assert first.get_by_text("still with us?").count() == 0
        expect(notice).to_be_visible()
        assert student_slots() == STREAMS_PER_PERSON

        first.get_by_role("button", name="Use the room here").click()
        expect(first.get_by_text("You are a participant")).to_be_visible(timeout=10_000)
        # Now the oldest of the others gives way.
        expect(
            tabs[1].get_by_role("heading", name="This room is open in another tab")
        ).to_be_visible(timeout=10_000)
        teacher.get_by_role("textbox", name="Message").fill("welcome back")
        teacher.keyboard.press("Enter")
        expect(first.get_by_text("welcome back")).to_be_visible(timeout=10_000)
        browser.close()
    hub_of(app).stop()


@pytest.mark.browser
def test_a_page_refused_for_opening_too_often_backs_off_and_comes_back(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from tests import live_server
    from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app, open_link, serve

    app = demo_app(tmp_path)
    with serve(app) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def log_in(username: str, password: str):
            return live_server.log_in(browser, base_url, username, password)

        teacher = log_in("teacher", "liveroom-teacher")
        open_link(teacher, "Biology 101")
        teacher.get_by_role("button", name="Start Meeting").click()
        expect(teacher.get_by_text("You are an instructor")).to_be_visible()
        # A loop opened student1's stream thirty times in the last minute, most of it
        # a while ago: the limit lets her in again within seconds.
        with app.app_context():
            student = db.session.scalar(sa.select(User.id).where(User.username == "student1"))
            session = db.session.scalar(sa.select(LiveSession.id))
            a_while_ago = utcnow() - timedelta(seconds=50)
            for _ in range(OPENS_PER_MINUTE):
                db.session.add(
                    RoomStream(
                        session_id=session,
                        user_id=student,
                        opened_at=a_while_ago,
                        seen_at=a_while_ago,
                        closed_at=a_while_ago,
                    )
                )
            db.session.commit()

        student = log_in("student1", "liveroom-student")
        answers: list[int] = []
        student.on(
            "response",
            lambda response: "/stream?" in response.url and answers.append(response.status),
        )
        student.goto(teacher.url)
        with student.expect_response(
            lambda response: "/stream?" in response.url and response.status == 429,
            timeout=10_000,
        ):
            student.get_by_role("button", name="Join Meeting").click()
        # Refused, the page still works: what she says reaches the room.
        expect(student.get_by_text("You are a participant")).to_be_visible(timeout=10_000)
        student.get_by_role("textbox", name="Message").fill("can you hear me?")
        student.keyboard.press("Enter")
        expect(teacher.get_by_text("can you hear me?")).to_be_visible(timeout=10_000)
        # Its stream comes back by itself once the minute has passed.
        teacher.get_by_role("textbox", name="Message").fill("yes, welcome")
        teacher.keyboard.press("Enter")
        expect(student.get_by_text("yes, welcome")).to_be_visible(timeout=60_000)
        assert answers[-1] == 200
        refused = answers.count(429)
        # htmx-ext-sse waits 0.5, 1, 2, 4, 8 … s between tries: a handful, not a flood.
        assert 1 <= refused <= 8, answers
        print(f"stream answers while refused, then back: {answers}")
        browser.close()
    hub_of(app).stop()


def test_a_stopped_hub_has_ended_its_threads_when_stop_returns(meeting):
    # What lets a test drop its database right after: no thread of the hub is still
    # in a query (or about to log that its database went away).
    tab = meeting.tab()
    hub = hub_of(meeting.app)
    assert hub.threads and all(thread.is_alive() for thread in hub.threads)
    tab.close()
    hub.stop()
    assert not any(thread.is_alive() for thread in hub.threads)
