"""Sessions that end: after logging out, no copy of that browser's session cookie
works any more, and its open room streams end; the person's other browsers stay signed
in unless they log out everywhere."""

from __future__ import annotations

import re
from datetime import timedelta
from hashlib import sha256

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect, sync_playwright

from liveroom.cli import DEMO_PASSWORDS
from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import LiveSession, LoginSession, utcnow
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, PASSWORD, AuthActions, World, make_app, open_stream, text_of
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app, log_in, serve
from tests.test_postgres import pg_app  # noqa: F401 (a fixture)


def copy_of_session(app, client):
    """Another browser holding a saved copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def signed_in(app, username: str):
    """Another browser (the teacher's phone, say) where ``username`` logged in."""
    browser = app.test_client()
    response = browser.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def test_log_out_leaves_the_same_persons_other_browser_signed_in(app, world, auth, client):
    world.user("teacher")
    phone = signed_in(app, "teacher")
    auth.login("teacher")
    response = client.post("/logout", follow_redirects=True)
    assert "You have logged out." in text_of(response)
    assert client.get("/channels/").status_code == 302
    assert phone.get("/channels/").status_code == 200


def test_each_log_in_is_a_session_of_its_own_and_log_out_ends_only_it(app, world, auth):
    world.user("teacher")
    signed_in(app, "teacher")
    auth.login("teacher")
    auth.logout()
    with app.app_context():
        ended = db.session.scalars(sa.select(LoginSession.ended_at).order_by(LoginSession.id))
        assert [at is not None for at in ended] == [False, True]


def test_copied_cookie_reads_no_page_after_logout(app, world, auth, client):
    world.user("teacher")
    auth.login("teacher")
    copy = copy_of_session(app, client)
    assert copy.get("/channels/").status_code == 200
    auth.logout()
    response = copy.get("/channels/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_copied_cookie_cannot_chat_after_logout(app, world, auth, client):
    world.user("teacher")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER))
    auth.login("teacher")
    client.post(f"/rooms/{room}/start", headers=HTMX)
    copy = copy_of_session(app, client)
    assert (
        copy.post(f"/rooms/{room}/chat", data={"body": "before"}, headers=HTMX).status_code == 200
    )
    auth.logout()
    response = copy.post(f"/rooms/{room}/chat", data={"body": "after"}, headers=HTMX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_log_out_everywhere_ends_the_session_in_another_browser(app, world, auth, client):
    world.user("teacher")
    phone = signed_in(app, "teacher")
    auth.login("teacher")
    assert phone.get("/channels/").status_code == 200
    response = client.post("/logout/everywhere", follow_redirects=True)
    assert "You have logged out on every device." in text_of(response)
    assert phone.get("/channels/").status_code == 302
    assert client.get("/channels/").status_code == 302


def test_other_people_stay_logged_in_when_one_logs_out_everywhere(app, world, auth):
    world.user("teacher")
    world.user("sam")
    sam = signed_in(app, "sam")
    auth.login("teacher")
    auth.client.post("/logout/everywhere")
    assert sam.get("/channels/").status_code == 200


def test_logging_in_again_after_logout_works(world, auth, client):
    world.user("teacher")
    auth.login("teacher")
    auth.logout()
    assert auth.login("teacher").status_code == 302
    assert client.get("/channels/").status_code == 200


def test_a_session_from_before_login_sessions_counts_as_logged_out(app, world, client):
    user_id = world.user("teacher")
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
    assert client.get("/channels/").status_code == 302


def test_user_menu_offers_log_out_everywhere(world, auth, client):
    world.user("teacher")
    auth.login("teacher")
    page = client.get("/channels/").get_data(as_text=True)
    assert 'action="/logout/everywhere"' in page
    assert "Log out everywhere" in page


def test_log_out_everywhere_needs_the_form_token(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    World(app).user("teacher")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "teacher", "password": PASSWORD, "csrf_token": token})
    assert client.post("/logout/everywhere").status_code == 400
    assert client.get("/channels/").status_code == 200
    hub_of(app).stop()


def test_a_forged_token_opens_no_session(app, world, client):
    user_id = world.user("teacher")
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["login_token"] = "guessed"
    assert client.get("/channels/").status_code == 302


# --- Sessions run out, and old rows go ----------------------------------------------


def logged_in_days_ago(app, days: float, login_id: int | None = None) -> None:
    """Move a log-in (the newest, unless named) back in time, as if made ``days`` ago."""
    with app.app_context():
        login_id = login_id or db.session.scalar(sa.select(sa.func.max(LoginSession.id)))
        db.session.execute(
            sa.update(LoginSession)
            .where(LoginSession.id == login_id)
            .values(created_at=utcnow() - timedelta(days=days))
        )
        db.session.commit()


def test_a_session_older_than_its_lifetime_is_sent_to_the_login_page(app, world, auth, client):
    world.user("teacher")
    auth.login("teacher")
    logged_in_days_ago(app, 15)
    response = client.get("/channels/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_a_copied_cookie_stops_working_when_its_session_runs_out(app, world, auth, client):
    world.user("teacher")
    auth.login("teacher")
    copy = copy_of_session(app, client)
    logged_in_days_ago(app, 13)
    assert copy.get("/channels/").status_code == 200, "13 days in, it still works"
    logged_in_days_ago(app, 14.01)
    assert copy.get("/channels/").status_code == 302


def test_the_lifetime_is_set_in_days(tmp_path):
    app = make_app(tmp_path, LIVEROOM_SESSION_DAYS=1)
    World(app).user("teacher")
    client = app.test_client()
    AuthActions(client).login("teacher")
    logged_in_days_ago(app, 0.5)
    assert client.get("/channels/").status_code == 200
    logged_in_days_ago(app, 1.5)
    assert client.get("/channels/").status_code == 302
    hub_of(app).stop()


def test_upkeep_deletes_sessions_over_for_a_day_and_keeps_the_rest(app, world):
    teacher = world.user("teacher")
    now = utcnow()
    rows = {
        "logged out 2 days ago": dict(
            created_at=now - timedelta(days=3), ended_at=now - timedelta(days=2)
        ),
        "ran out 2 days ago": dict(created_at=now - timedelta(days=16)),
        "logged out an hour ago": dict(
            created_at=now - timedelta(days=1), ended_at=now - timedelta(hours=1)
        ),
        "ran out an hour ago": dict(created_at=now - timedelta(days=14, hours=1)),
        "open, 13 days old": dict(created_at=now - timedelta(days=13)),
        "open, just now": dict(created_at=now),
    }
    with app.app_context():
        for name, times in rows.items():
            db.session.add(
                LoginSession(user_id=teacher, token_hash=sha256(name.encode()).hexdigest(), **times)
            )
        db.session.commit()
    hub = hub_of(app)
    hub.next_forget = 0.0  # its once-a-minute tidy is due
    hub.sweep()  # the upkeep's sweep, which one worker at a time runs every 5 s
    with app.app_context():
        kept = set(db.session.scalars(sa.select(LoginSession.token_hash)))
    assert kept == {
        sha256(name.encode()).hexdigest()
        for name in [
            "logged out an hour ago",
            "ran out an hour ago",
            "open, 13 days old",
            "open, just now",
        ]
    }


# --- Open room streams end with their session ---------------------------------------


class LiveRoom:
    """Biology 101 is live: the teacher started it in ``client``'s browser."""

    def __init__(self, app, world: World, auth) -> None:
        world.user("teacher", name="Maria Rivera")
        world.enable()
        self.app = app
        self.id = world.room_of(world.channel(teacher=ChannelRole.MANAGER))
        auth.login("teacher")
        self.teacher = auth.client
        self.teacher.post(f"/rooms/{self.id}/start", headers=HTMX)
        with app.app_context():
            self.session = db.session.scalar(sa.select(LiveSession.id))

    def stream(self, client):
        """``client``'s room stream, from the newest event on."""
        with self.app.app_context():
            since = newest_id()
        return open_stream(client, self.id, self.session, since)

    def chat(self, client, body: str) -> int:
        return client.post(f"/rooms/{self.id}/chat", data={"body": body}, headers=HTMX).status_code

    def refresh_panel(self, client):
        """What the page's "refresh" asks for: the person's state in the room now."""
        return client.post(
            f"/rooms/{self.id}/join",
            query_string={"session": self.session, "auto": 1},
            headers=HTMX,
        )


@pytest.fixture
def live_room(app, world, auth) -> LiveRoom:
    return LiveRoom(app, world, auth)


def refresh(message) -> bool:
    return message.event == "refresh"


def test_open_stream_ends_when_a_copy_of_its_cookie_logs_out(app, live_room):
    stream = live_room.stream(live_room.teacher)
    copy_of_session(app, live_room.teacher).post("/logout")
    hub_of(app).keep_present()
    stream.wait_for(refresh, timeout=10)
    assert stream.ended(timeout=10)
    # The refreshed page finds itself logged out: the whole tab goes to the log-in page.
    response = live_room.refresh_panel(live_room.teacher)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_open_stream_ends_when_its_session_runs_out(app, live_room):
    stream = live_room.stream(live_room.teacher)
    logged_in_days_ago(app, 15)
    hub_of(app).keep_present()
    stream.wait_for(refresh, timeout=10)
    assert stream.ended(timeout=10)
    assert live_room.refresh_panel(live_room.teacher).status_code == 401


def test_open_stream_ends_by_itself_within_seconds_of_logging_out(live_room):
    stream = live_room.stream(live_room.teacher)
    live_room.teacher.post("/logout")
    # No nudge: the hub's own upkeep (every 3 s) finds the ended session.
    stream.wait_for(refresh, timeout=20)
    assert stream.ended(timeout=10)


def test_open_stream_in_another_browser_ends_when_she_logs_out_everywhere(app, live_room):
    phone = signed_in(app, "teacher")
    stream = live_room.stream(phone)
    live_room.teacher.post("/logout/everywhere")
    hub_of(app).keep_present()
    stream.wait_for(refresh, timeout=10)
    assert stream.ended(timeout=10)
    assert live_room.chat(phone, "after") == 401


def test_logging_out_on_the_phone_leaves_the_laptops_room_open(app, live_room):
    laptop_stream = live_room.stream(live_room.teacher)
    phone = signed_in(app, "teacher")
    phone.post("/logout")
    hub_of(app).keep_present()
    assert live_room.chat(live_room.teacher, "still teaching") == 200
    laptop_stream.wait_for_text("still teaching", timeout=10)
    assert not any(refresh(message) for message in laptop_stream.seen)
    laptop_stream.close()


# --- Log-in names no account can have ------------------------------------------------

ODD_NAMES = ["teach\x00er", "\x00", "teacher\x1b[31m", "tea\x7fcher", "tea\x85cher", "t" * 65]


@pytest.mark.parametrize("username", ODD_NAMES)
def test_log_in_with_an_impossible_name_is_a_failed_log_in(world, auth, username):
    world.user("teacher")
    response = auth.login(username)
    assert response.status_code == 401
    assert "That username and password don't match" in text_of(response)
    assert "\x00" not in response.get_data(as_text=True)


def test_log_in_with_a_nul_in_the_name_is_a_failed_log_in_on_postgresql(pg_app):  # noqa: F811
    World(pg_app).user("teacher")
    client = pg_app.test_client()
    for username in ("teach\x00er", "teacher\x00"):
        response = client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 401
        assert "That username and password don't match" in text_of(response)
    response = client.post("/login", data={"username": "teacher", "password": PASSWORD})
    assert response.status_code == 302


# --- In a real browser ------------------------------------------------------------------


@pytest.mark.browser
def test_teacher_logs_out_everywhere_from_the_menu_and_the_phone_is_logged_out(tmp_path):
    with serve(demo_app(tmp_path)) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        laptop, phone = (
            log_in(browser, base_url, "teacher", DEMO_PASSWORDS["teacher"]) for _ in "ab"
        )
        laptop.locator("summary", has_text="open user menu").click()
        laptop.get_by_role("button", name="Log out everywhere").click()
        expect(laptop.get_by_text("You have logged out on every device.")).to_be_visible()
        phone.reload()
        expect(phone.get_by_role("heading", name="Log in to Liveroom")).to_be_visible()
        browser.close()
