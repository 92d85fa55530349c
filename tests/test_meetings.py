"""Start Meeting / Join Meeting in a channel, the waiting state, presence and the end."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Participation, utcnow
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import HTMX, PASSWORD, as_user, make_app, open_stream, participants_of, text_of
from tests.waiting import wait_until


@pytest.fixture
def biology(world):
    """Biology 101 with a manager, a moderator, a contributor, a member and an outsider."""
    for username, name in [
        ("teacher", "Maria Rivera"),
        ("assistant", "Omar Haddad"),
        ("helper", "Lena Berg"),
        ("student", "Sam Lee"),
        ("outsider", "Olga Out"),
    ]:
        world.user(username, name=name)
    world.enable()
    channel_id = world.channel(
        teacher=ChannelRole.MANAGER,
        assistant=ChannelRole.MODERATOR,
        helper=ChannelRole.CONTRIBUTOR,
        student=ChannelRole.MEMBER,
    )
    return {"channel": channel_id, "room": world.room_of(channel_id)}


def start(client, room):
    return client.post(f"/rooms/{room}/start", headers=HTMX)


def join(client, room, **params):
    return client.post(f"/rooms/{room}/join", headers=HTMX, query_string=params)


def live_session_id(app):
    from liveroom.models import LiveSession

    with app.app_context():
        return db.session.scalar(sa.select(LiveSession.id).where(LiveSession.ended_at.is_(None)))


def presence(client, room, session_id, since=0):
    return client.post(
        f"/rooms/{room}/presence",
        headers=HTMX,
        query_string={"session": session_id, "since": since},
    )


@pytest.mark.parametrize("username", ["teacher", "assistant"])
def test_manager_and_moderator_see_start_meeting(app, biology, username):
    page = text_of(as_user(app, username).get(f"/channels/{biology['channel']}"))
    assert "Start Meeting" in page
    assert "Join Meeting" not in page
    assert "full instructor permissions" in page


@pytest.mark.parametrize("username", ["helper", "student"])
def test_contributor_and_member_see_join_meeting(app, biology, username):
    page = text_of(as_user(app, username).get(f"/channels/{biology['channel']}"))
    assert "Join Meeting" in page
    assert "Start Meeting" not in page


def test_outsider_sees_the_channel_but_no_meeting_button(app, biology):
    page = text_of(as_user(app, "outsider").get(f"/channels/{biology['channel']}"))
    assert "Biology 101" in page
    assert "Start Meeting" not in page and "Join Meeting" not in page
    assert "Only members of this channel can start or join its meetings." in page


@pytest.mark.parametrize("action", ["start", "join"])
def test_outsider_asking_directly_gets_a_readable_403(app, biology, action):
    response = as_user(app, "outsider").post(f"/rooms/{biology['room']}/{action}")
    assert response.status_code == 403
    assert "Not allowed" in text_of(response)


def test_member_cannot_start_a_meeting(app, biology):
    response = start(as_user(app, "student"), biology["room"])
    assert response.status_code == 403
    assert "Only the channel's Managers and Moderators can start its meeting." in text_of(response)


def test_manager_starts_and_the_panel_loads_in_the_page(app, biology):
    response = start(as_user(app, "teacher"), biology["room"])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html, "HTMX gets the panel fragment, not a page"
    page = text_of(response)
    assert "You are an instructor" in page
    assert "Maria Rivera" in page
    assert "End meeting for everyone" in page


def test_start_without_htmx_redirects_to_the_room_page(app, biology):
    response = as_user(app, "teacher").post(f"/rooms/{biology['room']}/start")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/rooms/{biology['room']}"


def test_while_live_the_manager_sees_join_and_still_enters_as_instructor(app, biology):
    start(as_user(app, "teacher"), biology["room"])
    assistant = as_user(app, "assistant")
    page = text_of(assistant.get(f"/channels/{biology['channel']}"))
    assert "Join Meeting" in page and "Start Meeting" not in page
    assert "You are an instructor" in text_of(join(assistant, biology["room"]))


def test_member_joins_a_live_meeting_as_participant(app, biology):
    start(as_user(app, "teacher"), biology["room"])
    page = text_of(join(as_user(app, "student"), biology["room"]))
    assert "You are a participant" in page
    assert "End meeting for everyone" not in page
    assert "Sam Lee" in page and "Maria Rivera" in page


def test_member_waits_until_instructor_starts(app, biology):
    student = as_user(app, "student")
    waiting = join(student, biology["room"])
    assert "Waiting for the instructor to start this meeting" in text_of(waiting)
    # The waiting page asks again every two seconds; nothing changes until the start.
    assert join(student, biology["room"], waiting=1).status_code == 204
    start(as_user(app, "teacher"), biology["room"])
    entered = join(student, biology["room"], waiting=1)
    assert entered.status_code == 200
    assert "You are a participant" in text_of(entered)


def test_meeting_button_switches_from_idle_to_live_by_itself(app, biology):
    student = as_user(app, "student")
    url = f"/rooms/{biology['room']}/button"
    assert student.get(url, headers=HTMX, query_string={"live": 0}).status_code == 204
    start(as_user(app, "teacher"), biology["room"])
    response = student.get(url, headers=HTMX, query_string={"live": 0})
    assert response.status_code == 200
    assert "A meeting is in progress" in text_of(response)


def latest_event(app):
    from liveroom.events import newest_id

    with app.app_context():
        return newest_id()


def sweep(app):
    from liveroom.rooms import meetings

    with app.app_context():
        meetings.sweep_all(app.config["LIVEROOM_PRESENCE_TIMEOUT"])


def test_everyone_sees_who_is_in_the_room(app, biology):
    teacher = as_user(app, "teacher")
    start(teacher, biology["room"])
    stream = open_stream(teacher, biology["room"], live_session_id(app), latest_event(app))
    join(as_user(app, "student"), biology["room"])
    update = stream.wait_for_text("Sam Lee joined.")  # screen readers hear who came
    assert "Sam Lee" in update.data.partition('id="people-list"')[2], "the list shows them"
    assert '<span id="people-count" hx-swap-oob="innerHTML">2</span>' in update.data
    stream.close()


def test_a_closed_tab_leaves_after_the_heartbeat_timeout(app, biology):
    teacher = as_user(app, "teacher")
    start(teacher, biology["room"])
    join(as_user(app, "student"), biology["room"])
    session_id = live_session_id(app)
    stream = open_stream(teacher, biology["room"], session_id, latest_event(app))
    with app.app_context():
        stale = utcnow() - timedelta(seconds=31)
        db.session.execute(
            sa.update(Participation)
            .where(Participation.room_role == "participant")
            .values(last_seen_at=stale)
        )
        db.session.commit()
    sweep(app)
    gone = stream.wait_for_text("Sam Lee left.")
    assert "Sam Lee" not in gone.data.replace("Sam Lee left.", ""), "the list no longer shows them"
    assert "Sam Lee" not in participants_of(teacher.get(f"/rooms/{biology['room']}"))
    stream.close()


def test_a_goodbye_leaves_within_seconds_unless_the_page_comes_back(app, biology):
    from liveroom.live.hub import hub_of

    teacher = as_user(app, "teacher")
    student = as_user(app, "student")
    start(teacher, biology["room"])
    join(student, biology["room"])
    session_id = live_session_id(app)
    hub = hub_of(app)

    def student_is_listed():
        return "Sam Lee" in participants_of(teacher.get(f"/rooms/{biology['room']}"))

    def age_goodbyes():
        with app.app_context():
            db.session.execute(
                sa.update(Participation)
                .where(Participation.goodbye_at.is_not(None))
                .values(goodbye_at=utcnow() - timedelta(seconds=6))
            )
            db.session.commit()

    # A reload: the stream closes, the page says goodbye, and the new page's stream
    # comes back before the grace period is over.
    student.post(f"/rooms/{biology['room']}/leave", query_string={"beacon": 1})
    reloaded = open_stream(student, biology["room"], session_id)
    hub.keep_present()
    age_goodbyes()
    sweep(app)
    assert student_is_listed()
    # The tab really closes: its stream ends and nothing comes back.
    reloaded.close()
    wait_until(lambda: hub.listener_count() == 0, message="the closed tab still listens")
    hub.keep_present()
    age_goodbyes()
    sweep(app)
    assert not student_is_listed()


def test_leave_returns_to_the_join_button(app, biology):
    start(as_user(app, "teacher"), biology["room"])
    student = as_user(app, "student")
    join(student, biology["room"])
    page = text_of(student.post(f"/rooms/{biology['room']}/leave", headers=HTMX))
    assert "Join Meeting" in page


def test_instructor_ends_and_every_panel_says_so(app, biology):
    teacher = as_user(app, "teacher")
    student = as_user(app, "student")
    start(teacher, biology["room"])
    join(student, biology["room"])
    session_id = live_session_id(app)
    stream = open_stream(student, biology["room"], session_id, latest_event(app))
    assert "This meeting has ended" in text_of(
        teacher.post(f"/rooms/{biology['room']}/end", headers=HTMX)
    )
    assert stream.wait_for(lambda m: m.event == "refresh")
    # The refresh makes the page ask for its state again:
    page = text_of(join(student, biology["room"], session=session_id, auto=1))
    assert "This meeting has ended" in page
    assert "Join Meeting" not in page or "No meeting right now" in page
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count()).where(Participation.left_at.is_(None)))
            == 0
        )
    stream.close()


def test_participant_cannot_end_the_meeting(app, biology):
    start(as_user(app, "teacher"), biology["room"])
    student = as_user(app, "student")
    join(student, biology["room"])
    response = student.post(f"/rooms/{biology['room']}/end", headers=HTMX)
    assert response.status_code == 403
    assert live_session_id(app) is not None


def test_two_managers_starting_at_once_share_one_session(app, biology):
    start(as_user(app, "teacher"), biology["room"])
    start(as_user(app, "assistant"), biology["room"])
    from liveroom.models import LiveSession

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LiveSession)) == 1


def test_deep_link_to_the_room_shows_the_whole_page_with_the_panel(app, biology):
    teacher = as_user(app, "teacher")
    start(teacher, biology["room"])
    response = teacher.get(f"/rooms/{biology['room']}")
    html = response.get_data(as_text=True)
    assert "<html" in html
    assert "You are an instructor" in text_of(response)
    assert response.headers["Vary"] and "HX-Request" in response.headers["Vary"]


def test_refreshing_the_channel_page_keeps_you_in_the_meeting(app, biology):
    student = as_user(app, "student")
    start(as_user(app, "teacher"), biology["room"])
    join(student, biology["room"])
    assert "You are a participant" in text_of(student.get(f"/channels/{biology['channel']}"))


def test_room_state_survives_a_restart(app, biology, tmp_path):
    start(as_user(app, "teacher"), biology["room"])
    restarted = make_app(tmp_path)
    teacher = restarted.test_client()
    teacher.post("/login", data={"username": "teacher", "password": PASSWORD})
    assert "You are an instructor" in text_of(teacher.get(f"/rooms/{biology['room']}"))


def test_with_the_module_off_there_are_no_buttons_and_rooms_are_404(app, world, biology):
    world.settings(liveRoomEnabled="false")
    teacher = as_user(app, "teacher")
    page = text_of(teacher.get(f"/channels/{biology['channel']}"))
    assert "Start Meeting" not in page and "Join Meeting" not in page
    assert "My Rooms" not in page
    assert teacher.get(f"/rooms/{biology['room']}").status_code == 404
    assert start(teacher, biology["room"]).status_code == 404


def test_open_in_new_tab_makes_the_buttons_open_a_tab(app, world, biology):
    world.settings(openInNewTab="true")
    html = as_user(app, "teacher").get(f"/channels/{biology['channel']}").get_data(as_text=True)
    assert 'target="_blank"' in html
    assert "hx-post" not in html.split('id="start-meeting"')[0].rsplit("<form", 1)[1]


def test_anonymous_role_accounts_take_part_in_nothing(app, world, biology):
    world.user("guest", role=AppRole.ANONYMOUS)
    world.add_member(biology["channel"], "guest", ChannelRole.MEMBER)
    response = as_user(app, "guest").post(f"/rooms/{biology['room']}/join")
    assert response.status_code == 403


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode_with_foreign_keys_for_several_workers(app):
    with app.app_context():
        assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1


def test_opening_pages_writes_nothing(app, biology):
    """GET requests only read: a page view never commits (reloads and polls are many)."""
    import threading

    import sqlalchemy.orm as so

    teacher, student, helper = (as_user(app, name) for name in ("teacher", "student", "helper"))
    start(teacher, biology["room"])
    join(student, biology["room"])
    session_id = live_session_id(app)
    here = threading.get_ident()
    commits: list[str] = []

    def note(session: so.Session) -> None:
        if threading.get_ident() == here:  # the hub's own threads may write presence
            commits.append("commit")

    sa.event.listen(so.Session, "after_commit", note)
    try:
        for client, path in [
            (student, f"/channels/{biology['channel']}"),
            (student, f"/rooms/{biology['room']}"),
            (student, f"/rooms/{biology['room']}/button?live=0"),
            (helper, f"/channels/{biology['channel']}"),
            (teacher, f"/rooms/{biology['room']}/attendance"),
            (teacher, f"/rooms/{biology['room']}/sessions/{session_id}/attendance"),
            (teacher, f"/rooms/{biology['room']}/sessions/{session_id}/attendance.csv"),
        ]:
            assert client.get(path, headers=HTMX).status_code in (200, 204), path
            assert commits == [], f"GET {path} committed"
    finally:
        sa.event.remove(so.Session, "after_commit", note)
