"""The admin settings page."""

from liveroom.roles import AppRole
from tests.conftest import as_user, text_of


def test_admin_turns_the_module_on_and_the_change_is_recorded(app, world):
    world.user("admin", AppRole.ADMIN, name="Alex Admin")
    admin = as_user(app, "admin")
    page = text_of(admin.get("/admin/settings"))
    assert "Live Room module (liveRoomEnabled)" in page
    response = admin.post(
        "/admin/settings",
        data={"live_room_enabled": "y", "private_room_minimum_role": "privateOnlyRole"},
        follow_redirects=True,
    )
    page = text_of(response)
    assert "Settings saved." in page
    # The admin's name is isolated (<bdi>: names keep their own direction).
    assert "Alex Admin : liveRoomEnabled: false → true" in page
    assert 'href="/my-rooms"' not in response.get_data(as_text=True), "private rooms still off"


def test_settings_page_rejects_an_unknown_role(app, world):
    world.user("admin", AppRole.ADMIN)
    response = as_user(app, "admin").post(
        "/admin/settings", data={"private_room_minimum_role": "bossRole"}
    )
    assert response.status_code == 422
    assert "Not a valid choice" in text_of(response)
    assert "liveRoomEnabled: false → true" not in text_of(response)


def test_teachers_cannot_open_admin_settings(app, world):
    world.user("teacher", AppRole.PRIVATE_ONLY)
    teacher = as_user(app, "teacher")
    response = teacher.get("/admin/settings")
    assert response.status_code == 403
    assert "Only administrators" in text_of(response)
    assert teacher.post("/admin/settings", data={"live_room_enabled": "y"}).status_code == 403


def test_recent_changes_carry_valid_times_for_the_viewers_zone(app, world):
    import re

    world.user("admin", AppRole.ADMIN, name="Alex Admin")
    admin = as_user(app, "admin")
    admin.post(
        "/admin/settings",
        data={"live_room_enabled": "y", "private_room_minimum_role": "privateOnlyRole"},
    )
    html = admin.get("/admin/settings").get_data(as_text=True)
    stamp = re.search(
        r'<time datetime="([^"]+)" data-local="datetime" data-zone>([^<]+)</time>', html
    )
    assert stamp, "the change's time is marked for static/js/time.js"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp.group(1)), "no microseconds"
    assert stamp.group(2).endswith(" UTC"), "without JavaScript the time says its zone"


def test_the_page_says_what_turning_the_module_off_does(app, world):
    world.user("admin", AppRole.ADMIN)
    page = text_of(as_user(app, "admin").get("/admin/settings"))
    assert "Turning it off ends every live meeting" in page
    assert "attendance stays available" in page
