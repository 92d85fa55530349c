"""The admin area's Users page: find, create, rename, change roles, reset passwords,
deactivate and reactivate; every refusal; the default role setting."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.live.hub import hub_of
from liveroom.models import (
    AuditEntry,
    Event,
    LiveSession,
    LoginSession,
    Participation,
    User,
    WaitingEntry,
)
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import PASSWORD, World, as_user, make_app, open_stream

HTMX = {"HX-Request": "true"}


@pytest.fixture
def admin(app, world):
    world.user("root", AppRole.ADMIN, "Robin Root")
    return as_user(app, "root")


def user_named(app, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        db.session.expunge(user)
        return user


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def test_the_users_page_lists_searches_sorts_and_pages(app, world, admin):
    for n in range(60):
        world.user(f"pupil{n:02d}", name=f"Pupil {n:02d}")
    world.user("maria", AppRole.PRIVATE_ONLY, "Maria Rivera")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "62 users" in page and "Page 1 of 2" in page
    assert '<nav class="admin-nav" aria-label="Administration">' in page
    found = admin.get("/admin/users?q=RIVERA").get_data(as_text=True)
    assert "1 user found" in found and "maria" in found and "pupil01" not in found
    by_username = admin.get("/admin/users?q=pupil&sort=username&dir=desc").get_data(as_text=True)
    assert by_username.index("pupil59") < by_username.index("pupil58")
    assert 'aria-sort="descending"' in by_username
    second = admin.get("/admin/users?sort=username&page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and "root" in second and "maria" not in second


def test_htmx_gets_the_table_and_the_count_for_the_live_region(app, world, admin):
    world.user("maria", name="Maria Rivera")
    response = admin.get("/admin/users?q=mar", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "<html" not in html and "Maria Rivera" in html
    assert 'hx-swap-oob="innerHTML:#users-status">1 user found<' in html
    assert "HX-Request" in response.headers["Vary"]
    by_header = admin.get("/admin/users?sort=created&dir=desc", headers=HTMX).get_data(as_text=True)
    assert '<select id="users-sort" name="sort" hx-swap-oob="true">' in by_header
    assert '<option value="desc" selected>' in by_header
    by_form = {"HX-Trigger": "users-search", **HTMX}
    assert "users-sort" not in admin.get("/admin/users?sort=created", headers=by_form).get_data(
        as_text=True
    )
    history = admin.get("/admin/users", headers={"HX-History-Restore-Request": "true", **HTMX})
    assert "<html" in history.get_data(as_text=True)


def test_a_search_with_like_wildcards_finds_them_literally(app, world, admin):
    world.user("a_b", name="Percent 100%")
    world.user("axb", name="Other")
    assert "1 user found" in admin.get("/admin/users?q=a_b").get_data(as_text=True)
    assert "1 user found" in admin.get("/admin/users?q=100%25").get_data(as_text=True)


def test_an_admin_creates_a_user_with_a_temporary_password(app, world, admin):
    world.settings(defaultApplicationRole="privateOnlyRole")
    form = admin.get("/admin/users/new").get_data(as_text=True)
    assert re.search(
        r'<option selected value="privateOnlyRole">|<option value="privateOnlyRole" selected', form
    )
    response = admin.post(
        "/admin/users/new",
        data={"username": " Sam ", "display_name": "Sam Lee", "role": "viewerRole", "password": ""},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r"<code>([^<]+)</code>", response.get_data(as_text=True)).group(1)
    assert len(password) == 12 and not set(password) & set("0O1lI5S2Z8B")
    sam = user_named(app, "sam")
    assert (sam.display_name, sam.role, sam.must_change_password) == (
        "Sam Lee",
        AppRole.VIEWER,
        True,
    )
    assert "user_created" in audit_actions(app)
    client = app.test_client()
    client.post("/login", data={"username": "sam", "password": password})
    assert client.get("/channels/").headers["Location"].endswith("/account/password")


def create(admin, password: str, username: str = "sam"):
    data = {"username": username, "display_name": "Sam", "role": "viewerRole", "password": password}
    return admin.post("/admin/users/new", data=data)


def test_an_admin_set_password_follows_the_rules(app, world, admin):
    common = create(admin, "qwertyuiop")
    assert common.status_code == 422 and "too common" in common.get_data(as_text=True)
    assert "at least 10 characters" in create(admin, "short").get_data(as_text=True)
    assert create(admin, "quiet-river-lamp").status_code == 303
    assert not user_named(app, "sam").must_change_password


def test_usernames_are_checked_and_unique(app, world, admin):
    world.user("sam")
    taken = admin.post(
        "/admin/users/new", data={"username": "SAM", "display_name": "S", "role": "viewerRole"}
    )
    assert taken.status_code == 422 and "already a user named sam" in taken.get_data(as_text=True)
    spaced = admin.post(
        "/admin/users/new", data={"username": "sam lee", "display_name": "S", "role": "viewerRole"}
    )
    assert 'aria-invalid="true"' in spaced.get_data(as_text=True)
    assert "without spaces" in spaced.get_data(as_text=True)


def test_an_admin_renames_and_changes_a_role(app, world, admin):
    sam_id = world.user("sam", name="Sam")
    response = admin.post(
        f"/admin/users/{sam_id}", data={"display_name": "Sam Lee", "role": "privateOnlyRole"}
    )
    assert response.status_code == 303
    sam = user_named(app, "sam")
    assert (sam.display_name, sam.role) == ("Sam Lee", AppRole.PRIVATE_ONLY)
    assert {"user_renamed", "user_role_changed"} <= set(audit_actions(app))


def test_the_last_admin_keeps_the_admin_role(app, world, admin):
    root = user_named(app, "root")
    response = admin.post(
        f"/admin/users/{root.id}", data={"display_name": "Robin", "role": "viewerRole"}
    )
    assert response.status_code == 422
    assert "last active administrator" in response.get_data(as_text=True)
    assert user_named(app, "root").role is AppRole.ADMIN
    world.user("other", AppRole.UNMODERATED_ADMIN)
    admin.post(f"/admin/users/{root.id}", data={"display_name": "Robin", "role": "viewerRole"})
    assert user_named(app, "root").role is AppRole.VIEWER


def test_an_admin_cannot_deactivate_themselves_or_reset_their_own_password(app, world, admin):
    root = user_named(app, "root")
    page = admin.get(f"/admin/users/{root.id}").get_data(as_text=True)
    assert "You cannot deactivate your own account" in page
    assert "Change your own password on your Account page." in page
    assert admin.post(f"/admin/users/{root.id}/deactivate").status_code == 409
    assert admin.post(f"/admin/users/{root.id}/password").status_code == 409
    assert user_named(app, "root").deactivated_at is None
    assert not user_named(app, "root").must_change_password


def test_the_last_active_admin_cannot_be_deactivated_by_another(app, world, admin):
    other_id = world.user("other", AppRole.ADMIN)
    admin.post(f"/admin/users/{other_id}/deactivate")
    assert user_named(app, "other").deactivated_at is not None
    # root is now the only active admin; other cannot log in to deactivate them anyway.


def test_reset_password_shows_it_once_and_ends_their_sessions(app, world, admin):
    sam_id = world.user("sam")
    sam = as_user(app, "sam")
    response = admin.post(f"/admin/users/{sam_id}/password")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = re.search(r"<code>([^<]+)</code>", response.get_data(as_text=True)).group(1)
    assert sam.get("/channels/").status_code == 302  # signed out
    assert user_named(app, "sam").must_change_password
    assert "user_password_reset" in audit_actions(app)
    fresh = app.test_client()
    fresh.post("/login", data={"username": "sam", "password": password})
    assert fresh.get("/channels/").headers["Location"].endswith("/account/password")


def test_deactivated_users_cannot_log_in_and_are_signed_out(app, world, admin):
    sam_id = world.user("sam")
    sam = as_user(app, "sam")
    response = admin.post(f"/admin/users/{sam_id}/deactivate")
    assert response.status_code == 303
    assert sam.get("/channels/").status_code == 302
    with app.app_context():
        assert not db.session.scalar(
            sa.select(sa.func.count()).where(
                LoginSession.user_id == sam_id, LoginSession.ended_at.is_(None)
            )
        )
    refused = app.test_client().post("/login", data={"username": "sam", "password": PASSWORD})
    assert refused.status_code == 403
    assert "This account is deactivated. Ask your school&#39;s administrator." in refused.get_data(
        as_text=True
    )
    wrong = app.test_client().post("/login", data={"username": "sam", "password": "not it at all"})
    assert "deactivated" not in wrong.get_data(as_text=True)
    assert "user_deactivated" in audit_actions(app)
    admin.post(f"/admin/users/{sam_id}/reactivate")
    assert (
        app.test_client().post("/login", data={"username": "sam", "password": PASSWORD}).status_code
        == 302
    )
    assert "user_reactivated" in audit_actions(app)


def test_deactivation_takes_them_out_of_a_live_meeting(app, world, admin):
    world.enable()
    sam_id = world.user("sam")
    world.user("teacher")
    channel = world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER)
    room = world.room_of(channel)
    teacher, sam = as_user(app, "teacher"), as_user(app, "sam")
    assert teacher.post(f"/rooms/{room}/start", headers=HTMX).status_code == 200
    assert sam.post(f"/rooms/{room}/join", headers=HTMX).status_code == 200
    with app.app_context():
        present = sa.select(sa.func.count()).where(
            Participation.user_id == sam_id, Participation.left_at.is_(None)
        )
        assert db.session.scalar(present) == 1
    admin.post(f"/admin/users/{sam_id}/deactivate")
    with app.app_context():
        assert db.session.scalar(present) == 0
        kinds = list(db.session.scalars(sa.select(Event.kind).order_by(Event.id)))
        assert kinds[-1] == "participant_left"


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/admin/users"),
        ("get", "/admin/users/new"),
        ("post", "/admin/users/new"),
        ("get", "/admin/users/{id}"),
        ("post", "/admin/users/{id}"),
        ("post", "/admin/users/{id}/password"),
        ("post", "/admin/users/{id}/deactivate"),
        ("post", "/admin/users/{id}/reactivate"),
    ],
)
@pytest.mark.parametrize("role", [AppRole.VIEWER, AppRole.PRIVATE_ONLY])
def test_non_admins_are_refused_every_users_page_and_action(app, world, method, url, role):
    target = world.user("target")
    world.user("teacher", role)
    client = as_user(app, "teacher")
    data = {"display_name": "X", "role": "adminRole", "username": "x"}
    response = getattr(client, method)(url.format(id=target), data=data)
    assert response.status_code == 403
    assert user_named(app, "target").role is AppRole.VIEWER
    assert not user_named(app, "target").must_change_password


def test_signed_out_visitors_are_sent_to_log_in(app, client):
    assert client.get("/admin/users").status_code == 302


def test_users_actions_need_the_csrf_token(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    world = World(app)
    world.user("root", AppRole.ADMIN)
    sam_id = world.user("sam")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "root", "password": PASSWORD, "csrf_token": token})
    assert client.get("/admin/users").status_code == 200
    assert client.post(f"/admin/users/{sam_id}/deactivate").status_code == 400
    assert client.post(f"/admin/users/{sam_id}/password").status_code == 400
    assert client.post(
        f"/admin/users/{sam_id}", data={"display_name": "X", "role": "adminRole"}
    ).status_code in (400, 422)
    assert user_named(app, "sam").deactivated_at is None
    assert user_named(app, "sam").role is AppRole.VIEWER


def test_the_default_role_is_a_site_setting_and_never_an_admin_role(app, world, admin):
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert "defaultApplicationRole" in page
    assert (
        '<option value="adminRole"'
        not in page.split("default_application_role")[1].split("</select>")[0]
    )


def test_a_deactivated_persons_open_room_page_signs_out_and_the_room_sees_them_go(
    app, world, admin
):
    world.enable()
    sam_id = world.user("sam", name="Sam Lee")
    world.user("teacher")
    channel = world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER)
    room = world.room_of(channel)
    teacher, sam = as_user(app, "teacher"), as_user(app, "sam")
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    sam.post(f"/rooms/{room}/join", headers=HTMX)
    with app.app_context():
        session_id = db.session.scalar(sa.select(LiveSession.id))
        since = db.session.scalar(sa.select(sa.func.max(Event.id)))
    sams_page = open_stream(sam, room, session_id, since)
    teachers_page = open_stream(teacher, room, session_id, since)
    admin.post(f"/admin/users/{sam_id}/deactivate")
    hub_of(app).notify()
    sams_page.wait_for(lambda message: message.event == "refresh")
    teachers_page.wait_for_text("Sam Lee left.")
    hub_of(app).keep_present()
    assert sams_page.ended(timeout=10)
    # The refreshed page finds itself signed out: the tab goes to the log-in page.
    refreshed = sam.post(
        f"/rooms/{room}/join", query_string={"session": session_id, "auto": 1}, headers=HTMX
    )
    assert refreshed.status_code == 401 and refreshed.headers["HX-Redirect"].startswith("/login")


def test_deactivation_withdraws_their_request_to_enter_a_locked_meeting(app, world, admin):
    world.enable()
    sam_id = world.user("sam")
    world.user("teacher")
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
    teacher, sam = as_user(app, "teacher"), as_user(app, "sam")
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    teacher.post(f"/rooms/{room}/lock", data={"locked": "1"}, headers=HTMX)
    sam.post(f"/rooms/{room}/join", headers=HTMX)
    waiting = sa.select(WaitingEntry.decision).where(WaitingEntry.user_id == sam_id)
    with app.app_context():
        assert db.session.scalar(waiting) is None
    admin.post(f"/admin/users/{sam_id}/deactivate")
    with app.app_context():
        assert db.session.scalar(waiting) == "withdrawn"
        assert (
            db.session.scalar(sa.select(Event.kind).order_by(Event.id.desc())) == "waiting_changed"
        )
