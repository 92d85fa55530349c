"""Everyone's Account page: their display name and password, and the "Choose a new
password" page a temporary password leads to."""

from __future__ import annotations

import sqlalchemy as sa

from liveroom import accounts
from liveroom.extensions import db
from liveroom.models import AuditEntry, User
from liveroom.roles import AppRole
from tests.conftest import PASSWORD, as_user

NEW = "amber-kettle-orbit"


def change(client, current: str = PASSWORD, new: str = NEW, again: str | None = None):
    return client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "confirm_password": again or new},
    )


def stored(app, username: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        db.session.expunge(user)
        return user


def test_the_user_menu_links_to_the_account_page(app, world):
    world.user("sam")
    page = as_user(app, "sam").get("/channels/").get_data(as_text=True)
    assert 'href="/account"' in page
    assert 'href="/admin/users"' not in page


def test_admins_find_users_in_their_menu(app, world):
    world.user("root", AppRole.ADMIN)
    page = as_user(app, "root").get("/channels/").get_data(as_text=True)
    assert 'href="/admin/users"' in page


def test_someone_changes_their_display_name(app, world):
    world.user("sam", name="Sam")
    client = as_user(app, "sam")
    assert client.post("/account", data={"display_name": "  Sam Lee "}).status_code == 303
    assert stored(app, "sam").display_name == "Sam Lee"
    empty = client.post("/account", data={"display_name": ""})
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.get_data(as_text=True)


def test_someone_changes_their_password_and_other_browsers_are_signed_out(app, world):
    world.user("sam")
    here, elsewhere = as_user(app, "sam"), as_user(app, "sam")
    assert change(here).status_code == 303
    assert here.get("/channels/").status_code == 200
    assert elsewhere.get("/channels/").status_code == 302
    assert stored(app, "sam").check_password(NEW)
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEntry.action)) == "password_changed"


def test_the_current_password_is_required(app, world):
    world.user("sam")
    response = change(as_user(app, "sam"), current="not my password")
    assert response.status_code == 422
    assert "not your current password" in response.get_data(as_text=True)
    assert stored(app, "sam").check_password(PASSWORD)


def test_guessing_the_current_password_is_throttled_like_log_ins(app, world):
    world.user("sam")
    client = as_user(app, "sam")
    for _ in range(app.config["LIVEROOM_LOGIN_FAILURES_PER_ACCOUNT"]):
        change(client, current="a wrong guess")
    response = change(client)
    assert "Too many wrong passwords" in response.get_data(as_text=True)
    assert stored(app, "sam").check_password(PASSWORD)


def test_common_and_short_passwords_are_refused(app, world):
    world.user("sam")
    client = as_user(app, "sam")
    assert "too common" in change(client, new="password1234").get_data(as_text=True)
    assert "at least 10 characters" in change(client, new="short-pw").get_data(as_text=True)
    assert "differ" in change(client, new=NEW, again=NEW + "x").get_data(as_text=True)
    assert stored(app, "sam").check_password(PASSWORD)


def signed_in_with_a_temporary_password(app, world):
    sam_id = world.user("sam")
    with app.app_context():
        db.session.get(User, sam_id).must_change_password = True
        db.session.commit()
    return as_user(app, "sam")


def test_the_common_password_list_is_shipped_and_large():
    assert len(accounts.common_passwords()) >= 10_000
    assert accounts.password_problem("qwertyuiop") is not None
    assert accounts.password_problem(accounts.temporary_password()) is None


def test_a_temporary_password_leads_to_choose_a_new_password_everywhere(app, world):
    client = signed_in_with_a_temporary_password(app, world)
    for path in ("/channels/", "/account", "/my-rooms"):
        assert client.get(path).headers["Location"].endswith("/account/password")
    htmx = client.get("/channels/", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].endswith("/account/password")
    page = client.get("/account/password").get_data(as_text=True)
    assert "Choose a new password" in page and "temporary password" in page
    assert change(client).status_code == 303
    assert not stored(app, "sam").must_change_password
    assert client.get("/channels/").status_code == 200


def test_someone_who_must_change_their_password_can_still_log_out(app, world):
    client = signed_in_with_a_temporary_password(app, world)
    assert client.post("/logout").headers["Location"].endswith("/login")
