"""Sessions that end: after logging out, no copy of the session cookie works any more."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect, sync_playwright

from liveroom.cli import DEMO_PASSWORDS
from liveroom.live.hub import hub_of
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, PASSWORD, World, make_app, text_of
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app, serve


def copy_of_session(app, client):
    """Another browser holding a saved copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


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
    phone = app.test_client()
    phone.post("/login", data={"username": "teacher", "password": PASSWORD})
    auth.login("teacher")
    assert phone.get("/channels/").status_code == 200
    response = client.post("/logout/everywhere", follow_redirects=True)
    assert "You have logged out on every device." in text_of(response)
    assert phone.get("/channels/").status_code == 302
    assert client.get("/channels/").status_code == 302


def test_other_people_stay_logged_in_when_one_logs_out_everywhere(app, world, auth):
    world.user("teacher")
    world.user("sam")
    sam = app.test_client()
    sam.post("/login", data={"username": "sam", "password": PASSWORD})
    auth.login("teacher")
    auth.client.post("/logout/everywhere")
    assert sam.get("/channels/").status_code == 200


def test_logging_in_again_after_logout_works(world, auth, client):
    world.user("teacher")
    auth.login("teacher")
    auth.logout()
    assert auth.login("teacher").status_code == 302
    assert client.get("/channels/").status_code == 200


def test_a_session_from_before_generations_counts_as_logged_out(app, world, client):
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


# --- In a real browser ------------------------------------------------------------------


@pytest.mark.browser
def test_teacher_logs_out_everywhere_from_the_menu_and_the_phone_is_logged_out(tmp_path):
    with serve(demo_app(tmp_path)) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        laptop, phone = (
            browser_log_in(browser, base_url, "teacher", DEMO_PASSWORDS["teacher"]) for _ in "ab"
        )
        laptop.locator("summary", has_text="open user menu").click()
        laptop.get_by_role("button", name="Log out everywhere").click()
        expect(laptop.get_by_text("You have logged out on every device.")).to_be_visible()
        phone.reload()
        expect(phone.get_by_role("heading", name="Log in to Liveroom")).to_be_visible()
        browser.close()


def browser_log_in(browser, base_url: str, username: str, password: str):
    page = browser.new_context(base_url=base_url).new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My channels")).to_be_visible()
    return page
