"""Each person's live-room switches on the Account page (which announcements screen
readers hear in the room, keyboard shortcuts), and the shortcuts' switch inside the
room's shortcuts dialog."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import User
from tests.conftest import PASSWORD, World, as_user, make_app, text_of

ALL = ["chat", "hands", "people", "muted", "stage", "ended"]


def stored(app, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        db.session.expunge(user)
        return user


def save(client, announce: list[str], shortcuts: list[str] | None = None):
    shortcuts = ["0", "1"] if shortcuts is None else shortcuts
    return client.post("/account/live-room", data={"announce": announce, "shortcuts_on": shortcuts})


def test_the_account_page_lists_every_announcement_and_the_shortcuts_switch(app, world):
    world.user("sam")
    page = as_user(app, "sam").get("/account").get_data(as_text=True)
    boxes = re.findall(r'name="announce" value="(\w+)" checked', page)
    assert boxes == ALL, "all announced until someone turns one off"
    assert re.search(r'name="shortcuts_on" value="1"[^>]*checked', page)
    assert "Live room" in page and "Keyboard shortcuts on" in page


def test_someone_turns_chat_and_arrivals_off_and_shortcuts_off(app, world):
    world.user("sam")
    client = as_user(app, "sam")
    response = save(client, ["hands", "muted", "stage", "ended"], ["0"])
    assert response.status_code == 303
    sam = stored(app, "sam")
    assert sam.announcements_off == "chat,people" and sam.shortcuts_on is False
    page = client.get("/account")
    assert "Live room settings saved." in text_of(page)
    html = page.get_data(as_text=True)
    assert re.findall(r'name="announce" value="(\w+)" checked', html) == [
        "hands",
        "muted",
        "stage",
        "ended",
    ]
    assert not re.search(r'name="shortcuts_on" value="1"[^>]*checked', html)


def test_turning_everything_back_on(app, world):
    world.user("sam")
    client = as_user(app, "sam")
    save(client, [], ["0"])
    assert stored(app, "sam").announcements_off == ",".join(ALL)
    assert save(client, ALL).status_code == 303
    sam = stored(app, "sam")
    assert sam.announcements_off == "" and sam.shortcuts_on is True


@pytest.mark.parametrize(
    ("announce", "shortcuts", "message"),
    [
        (["chat", "gossip"], ["0", "1"], "Choose among the announcements listed."),
        (["chat"], [], "Say whether keyboard shortcuts are on."),
        (["chat"], ["0", "yes"], "Say whether keyboard shortcuts are on."),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_changes(
    app, world, announce, shortcuts, message
):
    world.user("sam")
    response = save(as_user(app, "sam"), announce, shortcuts)
    assert response.status_code == 422
    assert message in text_of(response)
    sam = stored(app, "sam")
    assert sam.announcements_off == "" and sam.shortcuts_on is True


def test_the_rooms_shortcut_switch_answers_the_page_its_new_switches(app, world):
    world.user("sam")
    client = as_user(app, "sam")
    off = client.post(
        "/account/shortcuts", data={"shortcuts_on": "0"}, headers={"HX-Request": "true"}
    )
    assert off.status_code == 200
    html = off.get_data(as_text=True)
    assert 'id="room-prefs"' in html and 'data-shortcuts="off"' in html
    assert "Keyboard shortcuts are off." in html, "said in the room's live region"
    assert stored(app, "sam").shortcuts_on is False
    on = client.post("/account/shortcuts", data={"shortcuts_on": ["0", "1"]})
    assert on.status_code == 303 and stored(app, "sam").shortcuts_on is True
    bad = client.post("/account/shortcuts", data={"shortcuts_on": "maybe"})
    assert bad.status_code == 400 and stored(app, "sam").shortcuts_on is True


def test_signed_out_people_are_sent_to_log_in(app, world):
    assert app.test_client().post("/account/live-room", data={}).status_code == 302
    assert app.test_client().post("/account/shortcuts", data={}).status_code == 302


def test_the_switches_need_the_pages_csrf_token(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    World(app).user("sam")
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    client.post("/login", data={"username": "sam", "password": PASSWORD, "csrf_token": token})
    page = client.get("/account").get_data(as_text=True)
    assert (
        client.post("/account/live-room", data={"announce": [], "shortcuts_on": "0"}).status_code
        == 400
    )
    assert client.post("/account/shortcuts", data={"shortcuts_on": "0"}).status_code == 400
    assert stored(app, "sam").shortcuts_on is True
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    saved = client.post(
        "/account/live-room", data={"announce": [], "shortcuts_on": "0", "csrf_token": token}
    )
    assert saved.status_code == 303 and stored(app, "sam").shortcuts_on is False
