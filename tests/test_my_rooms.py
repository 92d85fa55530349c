"""My Rooms: private rooms, + New Room, launching within the page, shared links."""

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Room
from liveroom.roles import AppRole
from tests.conftest import HTMX, as_user, text_of


@pytest.fixture
def people(world):
    world.user("teacher", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.user("student", AppRole.VIEWER, name="Sam Lee")
    world.enable(private=True)


def create(client, name, htmx=True):
    return client.post("/my-rooms", data={"name": name}, headers=HTMX if htmx else {})


def test_my_rooms_is_in_the_user_menu_for_private_only_and_above(app, people):
    assert "My Rooms" in text_of(as_user(app, "teacher").get("/channels/"))
    assert "My Rooms" not in text_of(as_user(app, "student").get("/channels/"))


def test_my_rooms_is_hidden_when_private_rooms_are_off(app, world, people):
    world.settings(enableUserPrivateLiveRoom="false")
    teacher = as_user(app, "teacher")
    assert "My Rooms" not in text_of(teacher.get("/channels/"))
    assert teacher.get("/my-rooms").status_code == 404


def test_minimum_role_setting_moves_the_line(app, world, people):
    world.settings(privateRoomMinimumRole="viewerRole")
    assert "My Rooms" in text_of(as_user(app, "student").get("/channels/"))
    world.settings(privateRoomMinimumRole="adminRole")
    teacher = as_user(app, "teacher")
    assert "My Rooms" not in text_of(teacher.get("/channels/"))
    assert teacher.get("/my-rooms").status_code == 403


def test_viewer_asking_for_my_rooms_directly_gets_403(app, people):
    response = as_user(app, "student").get("/my-rooms")
    assert response.status_code == 403
    assert "Ask your administrator" in text_of(response)


def test_new_room_opens_an_inline_form(app, people):
    response = as_user(app, "teacher").get("/my-rooms/new", headers=HTMX)
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert 'id="room-name"' in html and "autofocus" in html
    assert "Create room" in text_of(response)


def test_created_room_appears_in_the_list_at_once(app, people):
    response = create(as_user(app, "teacher"), "  Algebra   catch-up ")
    assert response.status_code == 201
    page = text_of(response)
    assert "Algebra catch-up" in page
    assert "Room “Algebra catch-up” created." in page


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Enter a name for the room."),
        ("    ", "Enter a name for the room."),
        ("x" * 101, "Room names can be at most 100 characters."),
    ],
)
def test_bad_room_names_get_an_inline_error(app, people, name, message):
    response = create(as_user(app, "teacher"), name)
    assert response.status_code == 422
    assert message in text_of(response)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Room)) == 0


def test_room_names_are_unique_per_owner(app, world, people):
    teacher = as_user(app, "teacher")
    create(teacher, "Office hours")
    response = create(teacher, "office HOURS")
    assert response.status_code == 422
    assert "You already have a room called “office HOURS”." in text_of(response)
    world.user("other", AppRole.PRIVATE_ONLY)
    assert create(as_user(app, "other"), "Office hours").status_code == 201


def test_a_100_character_name_is_fine(app, people):
    assert create(as_user(app, "teacher"), "y" * 100).status_code == 201


def test_clicking_a_room_name_launches_it_within_the_page(app, world, people):
    room = world.private_room("teacher", "Office hours")
    teacher = as_user(app, "teacher")
    html = teacher.get("/my-rooms").get_data(as_text=True)
    assert f'hx-post="/rooms/{room}/start"' in html
    assert f'hx-push-url="/rooms/{room}"' in html
    response = teacher.post(f"/rooms/{room}/start", headers=HTMX)
    page = text_of(response)
    assert "You are an instructor" in page
    assert "Invite people with this link" in page
    assert f"/rooms/{room}" in response.get_data(as_text=True)


def test_someone_else_cannot_launch_your_room(app, world, people):
    room = world.private_room("teacher", "Office hours")
    world.user("colleague", AppRole.PRIVATE_ONLY)
    response = as_user(app, "colleague").post(f"/rooms/{room}/start", headers=HTMX)
    assert response.status_code == 403
    assert "Only the room's owner can start this room." in text_of(response)


def test_link_opener_waits_then_joins_as_participant(app, world, people):
    room = world.private_room("teacher", "Office hours")
    student = as_user(app, "student")
    page = student.get(f"/rooms/{room}")
    assert page.status_code == 200
    assert 'hx-trigger="load, submit"' in page.get_data(as_text=True), "opening the link joins"
    assert "Waiting for the instructor" in text_of(
        student.post(f"/rooms/{room}/join", headers=HTMX)
    )
    as_user(app, "teacher").post(f"/rooms/{room}/start", headers=HTMX)
    joined = student.post(f"/rooms/{room}/join", headers=HTMX, query_string={"waiting": 1})
    assert "You are a participant" in text_of(joined)
    assert "Maria Rivera" in text_of(joined)


def test_owner_opening_their_room_link_chooses_when_to_start(app, world, people):
    room = world.private_room("teacher", "Office hours")
    page = as_user(app, "teacher").get(f"/rooms/{room}")
    assert "Start Meeting" in text_of(page)
    assert 'hx-trigger="load' not in page.get_data(as_text=True)


def test_unknown_room_link_is_404(app, people):
    assert as_user(app, "student").get("/rooms/no-such-room").status_code == 404
