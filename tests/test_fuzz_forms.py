"""Anything typed into any form, or put in any parameter, gets an answer a person can read:
a 4xx that says what was wrong, or the input accepted and shown escaped. Never a 500.

Hypothesis sends random Unicode, control and bidi characters, markup and 100 kB strings
to every form and parameter, as the people who are allowed to use them.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import LiveSession, Participation, User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import HTMX, PASSWORD, World, make_app, text_of

# Markup that must never reach a page unescaped.
MARK = "<b>x</b>"

awkward_characters = st.sampled_from(
    ["\x00", "\x1b", "\x7f", "\r", "\n", "\t", "\u202e", "\u2066", "\u202c", "\u2069",
     "\u200b", "\ufeff", "\ud7ff", "e\u0301", "ß", "ﬃ", "😀", "'", '"', "&", "<", ">",
     "{{", "%", "/", "\\"]
)  # fmt: skip
# Query strings and paths: gunicorn refuses request lines over 4 kB, so short ones.
short_values = st.one_of(
    st.text(max_size=40),
    st.lists(awkward_characters | st.text(max_size=3), max_size=12).map("".join),
    st.sampled_from(["", "0", "1", "-1", "01", "1.5", "9" * 30, "instructor", "participant",
                     "admit", "true", "privateOnlyRole", "adminRole"]),
)  # fmt: skip
# Form fields: the same, and 100 kB strings.
values = short_values | st.builds(
    lambda head, char: head + char * 100_000,
    st.sampled_from(["", MARK]),
    st.sampled_from(["a", "é", "\x00", "\u202e", "😀"]),
)
marked = values.map(lambda value: MARK + value)


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """A live channel room with a teacher and a pupil in it, a private room, an admin."""
    app = make_app(tmp_path_factory.mktemp("fuzz"))
    world = World(app)
    world.user("admin", AppRole.ADMIN, name="Ada Admin")
    world.user("teacher", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
    clients = {}
    for username in ("admin", "teacher", "sam"):
        client = app.test_client()
        client.post("/login", data={"username": username, "password": PASSWORD})
        clients[username] = client
    clients["teacher"].post(f"/rooms/{room}/start", headers=HTMX)
    clients["sam"].post(f"/rooms/{room}/join", headers=HTMX)
    with app.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id))
        sam_id = db.session.scalar(sa.select(User.id).where(User.username == "sam"))
        sam_in_room = db.session.scalar(
            sa.select(Participation.id).where(Participation.user_id == sam_id)
        )
    yield app, clients, room, session_id, sam_in_room
    hub_of(app).stop()


def assert_readable(response, stored_text: bool = False) -> None:
    """A 4xx that says why, or an answer with everything escaped; never a 5xx. Text
    that is stored and shown (names, chat) never carries a NUL back to the page."""
    assert response.status_code < 500, text_of(response)[:300]
    html = response.get_data(as_text=True)
    assert MARK not in html, "user text reached the page unescaped"
    if stored_text:
        assert "\x00" not in html
    if response.status_code >= 400 and response.status_code != 401:
        assert len(text_of(response)) > 10, f"{response.status_code} without a message"


FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(username=marked, password=values, next_url=short_values)
def test_login_form(school, username, password, next_url):
    app, *_ = school
    response = app.test_client().post(
        "/login",
        query_string={"next": next_url},
        data={"username": username, "password": password},
    )
    assert_readable(response)


@FUZZ
@given(name=marked)
def test_new_room_form(school, name):
    _, clients, *_ = school
    for headers in (HTMX, {}):
        response = clients["teacher"].post("/my-rooms", data={"name": name}, headers=headers)
        assert_readable(response, stored_text=True)


@FUZZ
@given(body=marked, to=values)
def test_chat_form(school, body, to):
    _, clients, room, *_ = school
    for who in ("teacher", "sam"):
        response = clients[who].post(
            f"/rooms/{room}/chat", data={"body": body, "to": to}, headers=HTMX
        )
        assert_readable(response, stored_text=True)


@FUZZ
@given(live=values, private=values, minimum=values, new_tab=values)
def test_admin_settings_form(school, live, private, minimum, new_tab):
    _, clients, *_ = school
    response = clients["admin"].post(
        "/admin/settings",
        data={
            "live_room_enabled": live,
            "private_rooms_enabled": private,
            "private_room_minimum_role": minimum,
            "open_in_new_tab": new_tab,
        },
    )
    assert_readable(response)
    # Put the school back as it was for the other tests.
    clients["admin"].post(
        "/admin/settings",
        data={
            "live_room_enabled": "y",
            "private_rooms_enabled": "y",
            "private_room_minimum_role": "privateOnlyRole",
        },
    )


@FUZZ
@given(
    session=short_values,
    auto=short_values,
    waiting=short_values,
    live=short_values,
    off=short_values,
)
def test_start_join_ask_and_button_parameters(school, session, auto, waiting, live, off):
    _, clients, room, *_ = school
    sam = clients["sam"]
    for action in ("join", "ask", "start"):
        response = sam.post(
            f"/rooms/{room}/{action}",
            query_string={"session": session, "auto": auto, "waiting": waiting},
            headers=HTMX,
        )
        assert_readable(response)
    button = sam.get(f"/rooms/{room}/button", query_string={"live": live, "off": off})
    assert_readable(button)
    # Back in the room for the next example.
    sam.post(f"/rooms/{room}/join", headers=HTMX)


@FUZZ
@given(role=values, raised=values, enabled=values, locked=values)
def test_role_hand_and_toggle_parameters(school, role, raised, enabled, locked):
    _, clients, room, _, sam_in_room = school
    teacher, sam = clients["teacher"], clients["sam"]
    people = f"/rooms/{room}/people/{sam_in_room}"
    assert_readable(teacher.post(f"{people}/role", data={"role": role}, headers=HTMX))
    assert_readable(sam.post(f"/rooms/{room}/hand", data={"raised": raised}, headers=HTMX))
    assert_readable(
        teacher.post(f"/rooms/{room}/chat/enabled", data={"enabled": enabled}, headers=HTMX)
    )
    assert_readable(teacher.post(f"/rooms/{room}/lock", data={"locked": locked}, headers=HTMX))
    teacher.post(f"/rooms/{room}/lock", data={"locked": "0"}, headers=HTMX)
    teacher.post(f"/rooms/{room}/chat/enabled", data={"enabled": "1"}, headers=HTMX)
    teacher.post(f"{people}/role", data={"role": "participant"}, headers=HTMX)


@FUZZ
@given(public_id=short_values, number=short_values)
def test_addresses_with_anything_in_them(school, public_id, number):
    _, clients, *_ = school
    teacher = clients["teacher"]
    room = quote(public_id.encode("utf-8", "surrogatepass"), safe="") or "x"
    number = quote(number.encode("utf-8", "surrogatepass"), safe="") or "1"
    for method, url in (
        ("post", f"/rooms/{room}/join"),
        ("get", f"/rooms/{room}"),
        ("get", f"/channels/{number}"),
        ("post", f"/rooms/{room}/people/{number}/remove"),
        ("post", f"/rooms/{room}/waiting/{number}/admit"),
        ("get", f"/rooms/{room}/sessions/{number}/attendance"),
    ):
        assert_readable(getattr(teacher, method)(url, headers=HTMX))
