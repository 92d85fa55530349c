"""Importing a class from CSV: preview, then apply all lines or none (the admin page
and the command line), bad files refused, temporary passwords handed out once."""

from __future__ import annotations

import html
import io
import os
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from liveroom import handouts
from liveroom.extensions import db
from liveroom.models import AuditEntry, Membership, PasswordHandout, User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import PASSWORD, World, as_user, text_of

CLASS = "username,display_name,role\nava,Ava López,Viewer\nben,Ben Okafor,\ncid,Cid Park,privateonlyrole\n"


@pytest.fixture
def admin(app, world):
    world.user("admin", AppRole.ADMIN, name="Alex Admin")
    return as_user(app, "admin")


def preview(client, text: str | bytes, kind: str = "users"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/admin/import/preview",
        data={"kind": kind, "file": (io.BytesIO(data), "class.csv")},
        content_type="multipart/form-data",
    )


def hidden(response, name: str) -> str:
    page = response.get_data(as_text=True)
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    assert match, f"no hidden {name} field"
    return html.unescape(match.group(1))


FIELDS = ("kind", "content", "digest")


def apply(client, previewed, **changes):
    fields = {f"apply-{name}": hidden(previewed, f"apply-{name}") for name in FIELDS}
    fields.update({f"apply-{name}": value for name, value in changes.items()})
    return client.post("/admin/import/apply", data=fields, content_type="multipart/form-data")


def users(app) -> dict[str, User]:
    with app.app_context():
        found = {user.username: user for user in db.session.scalars(sa.select(User))}
        db.session.expunge_all()
        return found


def test_admin_previews_a_class_then_applies_it(app, admin):
    previewed = preview(admin, CLASS)
    assert previewed.status_code == 200
    page = text_of(previewed)
    assert "3 to create, 0 to change, 0 unchanged." in page
    assert "new Viewer account; temporary password" in page
    assert "new Private Only account" in page
    assert set(users(app)) == {"admin"}, "a preview changes nothing"

    done = apply(admin, previewed)
    assert done.status_code == 200
    assert done.headers["Cache-Control"] == "no-store"
    page = text_of(done)
    assert "3 created, 0 changed, 0 unchanged." in page
    made = users(app)
    assert (made["ava"].display_name, made["ava"].role) == ("Ava López", AppRole.VIEWER)
    assert made["cid"].role is AppRole.PRIVATE_ONLY
    for username in ("ava", "ben", "cid"):
        assert made[username].must_change_password
        password = re.search(rf"{username} .*? ([\w-]{{12,}})", page).group(1)
        assert made[username].check_password(password)


def test_the_preview_answers_htmx_with_its_live_region_only(admin):
    response = admin.post(
        "/admin/import/preview",
        data={"kind": "users", "file": (io.BytesIO(CLASS.encode()), "class.csv")},
        headers={"HX-Request": "true"},
    )
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert 'role="status"' in body
    assert "HX-Request" in response.headers["Vary"]


def test_preview_says_what_changes_for_existing_people(app, world, admin):
    world.user("ava", name="Ava Lopez")
    world.user("ben", name="Ben Okafor")
    page = text_of(preview(admin, CLASS))
    assert "0 to create" not in page
    assert "name Ava Lopez → Ava López" in page
    assert "1 to create, 1 to change, 1 unchanged." in page


def test_a_password_given_in_the_file_is_used_and_need_not_be_changed(app, admin):
    text = (
        "username,display_name,role,password,email\ndee,Dee,,a-long-passphrase,dee@school.example\n"
    )
    apply(admin, preview(admin, text))
    dee = users(app)["dee"]
    assert dee.check_password("a-long-passphrase")
    assert not dee.must_change_password
    assert dee.email == "dee@school.example"


def test_an_existing_accounts_password_is_never_changed_by_an_import(app, world, admin):
    world.user("ava", name="Ava")
    text = "username,display_name,role,password\nava,Ava,viewerRole,another-passphrase\n"
    previewed = preview(admin, text)
    assert "password ignored" in text_of(previewed)
    apply(admin, previewed)
    assert not users(app)["ava"].check_password("another-passphrase")


def test_bom_and_semicolons_are_read(app, admin):
    text = "\ufeffusername;display_name;role\nava;López, Ava;Viewer\n"
    apply(admin, preview(admin, text.encode("utf-8")))
    assert users(app)["ava"].display_name == "López, Ava"


def test_roles_by_key_or_label_in_any_case(app, admin):
    text = "username,display_name,role\na,A,VIEWER\nb,B,private only\nc,C,adminRole\n"
    apply(admin, preview(admin, text))
    made = users(app)
    assert [made[u].role for u in "abc"] == [AppRole.VIEWER, AppRole.PRIVATE_ONLY, AppRole.ADMIN]


def test_an_empty_role_is_the_sites_default_role(app, world, admin):
    world.settings(defaultApplicationRole="privateOnlyRole")
    apply(admin, preview(admin, "username,display_name,role\nben,Ben,\n"))
    assert users(app)["ben"].role is AppRole.PRIVATE_ONLY


def test_the_formula_guard_of_an_export_is_taken_off(app, admin):
    apply(admin, preview(admin, "username,display_name,role\nava,'=Ava,Viewer\nbo,'Bo,Viewer\n"))
    made = users(app)
    assert made["ava"].display_name == "=Ava"
    assert made["bo"].display_name == "'Bo", "an apostrophe before a letter is kept"


def test_a_file_with_one_bad_line_changes_nothing(app, admin):
    text = CLASS + "dan,Dan,bossRole\n"
    previewed = preview(admin, text)
    assert previewed.status_code == 422
    page = text_of(previewed)
    assert "1 line with errors" in page
    assert "unknown role 'bossRole'" in page
    assert "Apply import" not in page
    # Even posted by hand, the apply step re-checks the file and refuses it whole.
    forged = admin.post(
        "/admin/import/apply",
        data={"apply-kind": "users", "apply-content": text, "apply-digest": "0" * 64},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 409
    assert "nothing was imported" in text_of(forged)
    assert set(users(app)) == {"admin"}


def test_apply_refuses_when_the_data_changed_since_the_preview(app, world, admin):
    previewed = preview(admin, CLASS)
    world.user("ben", name="Benjamin")  # someone made ben meanwhile
    response = apply(admin, previewed)
    assert response.status_code == 409
    assert "Something changed since the preview" in text_of(response)
    assert set(users(app)) == {"admin", "ben"}


def test_the_content_cannot_be_swapped_after_the_preview(app, admin):
    previewed = preview(admin, CLASS)
    other = "username,display_name,role\nmallory,Mallory,adminRole\n"
    assert apply(admin, previewed, content=other).status_code == 409
    assert "mallory" not in users(app)


def too_many_lines() -> str:
    return "username,display_name,role\n" + "".join(f"u{n},U {n},\n" for n in range(10_001))


def test_ten_thousand_lines_are_the_most_a_file_may_hold(app):
    from liveroom import csv_import

    text = "username,display_name,role\n" + "".join(f"u{n},U {n},\n" for n in range(10_000))
    with app.app_context():
        plan = csv_import.preview("users", text.encode())
    assert plan.ok and plan.count("create") == 10_000


def test_temporary_passwords_are_hashed_quickly_and_still_salted(app, admin):
    apply(admin, preview(admin, CLASS))
    hashes = [user.password_hash for user in users(app).values() if user.must_change_password]
    assert len(set(hashes)) == 3
    assert all(h.startswith("pbkdf2:sha256:1000$") for h in hashes)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"username,display_name,role\n", "The file has a header but no lines to import."),
        (b"username,role\nava,Viewer\n", "The column 'display_name' is missing."),
        (b"username,display_name,role,age\nava,Ava,,12\n", "Unknown column 'age'."),
        (b"channel,username,channel_role\nBio,ava,member\n", "This looks like a memberships file."),
        ("username,display_name,role\nava,Léa,\n".encode("latin-1"), "The file is not UTF-8 text."),
        (b"username,display_name,role\n" + b"x" * (2 * 1024 * 1024), "larger than 2 MB"),
        (too_many_lines().encode(), "The file has more than 10,000 lines"),
    ],
)
def test_bad_files_are_refused_whole(app, admin, data, message):
    response = preview(admin, data)
    assert response.status_code == 422
    page = text_of(response)
    assert "Nothing was imported" in page
    assert message in page
    assert set(users(app)) == {"admin"}


@pytest.mark.parametrize(
    "line, message",
    [
        ("ava,Ava,bossRole,,", "unknown role 'bossRole'"),
        ("bad name,Ava,,,", "Usernames are 1 to 64 characters"),
        ("ava,,Viewer,,", "Display names are 1 to 100 characters."),
        ("ava,Ava,,short,", "Passwords need at least 10 characters."),
        ("ava,Ava,,password123,", "too common"),
        ("ava,Ava,,,not-an-address", "'not-an-address' is not an email address"),
        ("ava,Ava", "2 values, but the header has 5 columns"),
    ],
)
def test_bad_lines_are_named_with_their_line_number(admin, line, message):
    response = preview(admin, f"username,display_name,role,password,email\n{line}\n")
    assert response.status_code == 422
    assert re.search(r"<th scope=\"row\">.*?</span>2</th>", response.get_data(as_text=True))
    assert message in text_of(response)


def test_duplicate_usernames_within_the_file(admin):
    page = text_of(preview(admin, "username,display_name,role\nava,Ava,\nAVA,Ava again,\n"))
    assert "'ava' is already on line 2" in page


def test_an_admin_cannot_change_their_own_role_by_import(admin):
    page = text_of(preview(admin, "username,display_name,role\nadmin,Alex Admin,Viewer\n"))
    assert "you cannot change your own role by import" in page


def test_the_forms_check_their_csrf_token(tmp_path):
    from tests.conftest import make_app

    app = make_app(tmp_path / "csrf", WTF_CSRF_ENABLED=True)
    World(app).user("admin", AppRole.ADMIN)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    assert preview(client, CLASS).status_code == 400
    forged = {"apply-kind": "users", "apply-content": CLASS, "apply-digest": "0" * 64}
    assert client.post("/admin/import/apply", data=forged).status_code == 400
    assert set(users(app)) == {"admin"}


def test_each_import_is_in_the_audit_log(app, admin):
    apply(admin, preview(admin, CLASS))
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "csv_import"))
        assert entry.detail == "users: 3 created, 0 changed, 0 unchanged"
        assert entry.actor.username == "admin"


def test_only_admins_import(app, world):
    world.user("teacher", AppRole.PRIVATE_ONLY)
    teacher = as_user(app, "teacher")
    assert teacher.get("/admin/import").status_code == 403
    assert preview(teacher, CLASS).status_code == 403
    forged = {"apply-kind": "users", "apply-content": CLASS, "apply-digest": "0" * 64}
    assert teacher.post("/admin/import/apply", data=forged).status_code == 403
    assert set(users(app)) == {"teacher"}


# --- Memberships -----------------------------------------------------------------


@pytest.fixture
def biology(world):
    for username in ("maria", "ava", "ben"):
        world.user(username)
    return world.channel("Biology 101", maria=ChannelRole.MANAGER, ava=ChannelRole.MEMBER)


def roles_in(app, channel_id: int) -> dict[str, ChannelRole]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(User.username, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.channel_id == channel_id)
        )
        return dict(rows.all())


def test_memberships_are_added_and_changed(app, admin, biology):
    text = "channel,username,channel_role\nBiology 101,ben,Member\nBiology 101,ava,moderator\n"
    page = text_of(preview(admin, text, "memberships"))
    assert "1 to create, 1 to change, 0 unchanged." in page
    assert "Member → Moderator" in page
    apply(admin, preview(admin, text, "memberships"))
    assert roles_in(app, biology) == {
        "maria": ChannelRole.MANAGER,
        "ava": ChannelRole.MODERATOR,
        "ben": ChannelRole.MEMBER,
    }


def test_unknown_channels_and_people_are_errors(admin, biology):
    text = "channel,username,channel_role\nChemistry,ben,member\nBiology 101,zoe,member\nBiology 101,ben,boss\n"
    page = text_of(preview(admin, text, "memberships"))
    assert "no channel named 'Chemistry'" in page
    assert "no user named 'zoe'" in page
    assert "unknown channel role 'boss'" in page


def test_the_last_manager_cannot_be_demoted_by_import(app, admin, biology):
    demote = "channel,username,channel_role\nBiology 101,maria,member\n"
    response = preview(admin, demote, "memberships")
    assert "this would leave the channel without a Manager" in text_of(response)
    # With someone else made Manager in the same file, it is fine.
    apply(admin, preview(admin, demote + "Biology 101,ben,manager\n", "memberships"))
    assert roles_in(app, biology)["maria"] is ChannelRole.MEMBER
    assert roles_in(app, biology)["ben"] is ChannelRole.MANAGER


def test_an_admin_who_is_manager_does_not_count_as_the_channels_manager(app, admin, biology):
    World(app).add_member(biology, "admin", ChannelRole.MANAGER)
    demote = "channel,username,channel_role\nBiology 101,maria,member\n"
    page = text_of(preview(admin, demote, "memberships"))
    assert "this would leave the channel without a Manager" in page


# --- Temporary passwords: once, within ten minutes ----------------------------------


class Handout:
    """The result page's download button: posts the handout's token."""

    def __init__(self, result) -> None:
        self.token = hidden(result, "token")

    def download(self, client):
        return client.post("/admin/import/passwords", data={"token": self.token})


def test_temporary_passwords_download_once(app, admin):
    handout = Handout(apply(admin, preview(admin, CLASS)))
    first = handout.download(admin)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "no-store"
    rows = first.get_data(as_text=True).splitlines()
    assert rows[0] == "username,display_name,temporary_password"
    assert [row.split(",")[0] for row in rows[1:]] == ["ava", "ben", "cid"]
    assert handout.download(admin).status_code == 410, "the plain text is gone once downloaded"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PasswordHandout)) == 0


def test_temporary_passwords_are_gone_after_ten_minutes(app, admin, monkeypatch):
    handout = Handout(apply(admin, preview(admin, CLASS)))
    now = handouts.clock()
    monkeypatch.setattr(handouts, "clock", lambda: now + timedelta(minutes=10, seconds=1))
    assert handout.download(admin).status_code == 410


def test_expired_handouts_are_deleted_by_the_next_request(app, admin, monkeypatch):
    apply(admin, preview(admin, CLASS))
    now = handouts.clock()
    monkeypatch.setattr(handouts, "clock", lambda: now + timedelta(minutes=9))
    admin.get("/admin/import")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PasswordHandout)) == 1
    monkeypatch.setattr(handouts, "clock", lambda: now + timedelta(minutes=11))
    admin.get("/admin/import")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PasswordHandout)) == 0


def test_another_admin_cannot_download_the_passwords(app, world, admin):
    handout = Handout(apply(admin, preview(admin, CLASS)))
    world.user("admin2", AppRole.ADMIN)
    assert handout.download(as_user(app, "admin2")).status_code == 410
    assert handout.download(admin).status_code == 200


# --- The command line ---------------------------------------------------------------


def write(tmp_path, text: str, name: str = "class.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_cli_previews_without_apply(app, runner, tmp_path):
    result = runner.invoke(args=["import", "users", write(tmp_path, CLASS)])
    assert result.exit_code == 0, result.output
    assert "line 2: create ava: new Viewer account; temporary password" in result.output
    assert "Preview: 3 to create, 0 to change, 0 unchanged." in result.output
    assert users(app) == {}


def test_cli_applies_and_writes_the_temporary_passwords(app, runner, tmp_path):
    out = tmp_path / "passwords.csv"
    args = ["import", "users", write(tmp_path, CLASS), "--apply", "--passwords", str(out)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Imported: 3 created, 0 changed, 0 unchanged." in result.output
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    rows = out.read_text().splitlines()
    made = users(app)
    for row in rows[1:]:
        username, _, password = row.split(",")
        assert made[username].check_password(password)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PasswordHandout)) == 0


def test_cli_needs_a_file_for_temporary_passwords(app, runner, tmp_path):
    result = runner.invoke(args=["import", "users", write(tmp_path, CLASS), "--apply"])
    assert result.exit_code == 1
    assert "give --passwords FILE" in result.output
    assert users(app) == {}


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "The file is empty."),
        ("username,display_name\nava,Ava\n", "The column 'role' is missing."),
    ],
)
def test_cli_refuses_bad_files_in_one_line(app, runner, tmp_path, text, message):
    result = runner.invoke(args=["import", "users", write(tmp_path, text), "--apply"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert users(app) == {}


def test_cli_names_each_bad_line_and_exits_1(app, runner, tmp_path):
    text = CLASS + "dan,Dan,bossRole\nava,Ava again,\n"
    result = runner.invoke(args=["import", "users", write(tmp_path, text), "--apply"])
    assert result.exit_code == 1
    assert "line 5: unknown role 'bossRole'" in result.output
    assert "line 6: 'ava' is already on line 2" in result.output
    assert "2 lines with errors: nothing was imported" in result.output
    assert users(app) == {}


def test_cli_imports_memberships(app, runner, tmp_path, biology):
    text = "channel;username;channel_role\nBiology 101;ben;Contributor\n"
    result = runner.invoke(args=["import", "memberships", write(tmp_path, text), "--apply"])
    assert result.exit_code == 0, result.output
    assert roles_in(app, biology)["ben"] is ChannelRole.CONTRIBUTOR
