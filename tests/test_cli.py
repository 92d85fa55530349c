"""The admin command line: one-line errors, exit 1, nothing changed on bad input."""

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Channel, Membership, Setting, User
from liveroom.roles import AppRole, ChannelRole


def run(runner, *args):
    return runner.invoke(args=list(args))


def count(app, model):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_init_db_creates_tables(runner):
    result = run(runner, "init-db")
    assert result.exit_code == 0
    assert "Database ready." in result.output


def test_create_user_with_role(app, runner):
    result = run(
        runner,
        "users",
        "create",
        "Maria",
        "--password",
        "longenough",
        "--role",
        "privateOnlyRole",
        "--display-name",
        "Maria Rivera",
    )
    assert result.exit_code == 0, result.output
    assert "Created maria (Private Only)." in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User))
        assert (user.username, user.display_name, user.role) == (
            "maria",
            "Maria Rivera",
            AppRole.PRIVATE_ONLY,
        )
        assert user.check_password("longenough")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--role", "teacherRole"], "Error: unknown role 'teacherRole'"),
        (["--password", "shortpass"], "Error: Passwords need at least 10 characters."),
        (["--password", "qwertyuiop"], "Error: That password is too common"),
    ],
)
def test_create_user_rejects_bad_input(app, runner, args, message):
    base = {"--password": "longenough", "--role": "viewerRole"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = run(runner, "users", "create", "sam", *[x for kv in base.items() for x in kv])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(message)
    assert count(app, User) == 0


def test_a_user_created_without_a_role_gets_the_default_application_role(app, runner):
    run(runner, "settings", "set", "defaultApplicationRole", "privateOnlyRole")
    result = run(runner, "users", "create", "sam", "--password", "longenough")
    assert "Created sam (Private Only)." in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User.role)) is AppRole.PRIVATE_ONLY


def test_duplicate_user_is_refused_and_the_first_is_kept(app, runner):
    run(runner, "users", "create", "sam", "--password", "first-password")
    result = run(runner, "users", "create", "SAM", "--password", "second-password")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: a user named 'sam' already exists"
    with app.app_context():
        assert db.session.scalar(sa.select(User)).check_password("first-password")


def test_channels_create_and_add_member(app, runner):
    run(runner, "users", "create", "sam", "--password", "longenough")
    assert run(runner, "channels", "create", "Biology 101").exit_code == 0
    result = run(runner, "channels", "add-member", "Biology 101", "sam", "--role", "moderator")
    assert result.exit_code == 0
    assert "sam is now Moderator of Biology 101." in result.output
    with app.app_context():
        membership = db.session.scalar(sa.select(Membership))
        assert membership.role is ChannelRole.MODERATOR
        assert db.session.scalar(sa.select(Channel)).room is not None


@pytest.mark.parametrize(
    "args, message",
    [
        (["Nope", "sam", "--role", "member"], "Error: no channel named 'Nope'"),
        (["Biology 101", "nobody", "--role", "member"], "Error: no user named 'nobody'"),
        (["Biology 101", "sam", "--role", "teacher"], "Error: unknown channel role 'teacher'"),
    ],
)
def test_add_member_rejects_bad_input(app, runner, args, message):
    run(runner, "users", "create", "sam", "--password", "longenough")
    run(runner, "channels", "create", "Biology 101")
    result = run(runner, "channels", "add-member", *args)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(message)
    assert count(app, Membership) == 0


def test_duplicate_channel_is_refused(app, runner):
    run(runner, "channels", "create", "Biology 101")
    result = run(runner, "channels", "create", "Biology 101")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: a channel named 'Biology 101' already exists"
    assert count(app, Channel) == 1


def test_settings_set_and_show(runner):
    assert run(runner, "settings", "set", "enableUserPrivateLiveRoom", "true").exit_code == 0
    assert run(runner, "settings", "set", "privateRoomMinimumRole", "viewerRole").exit_code == 0
    shown = run(runner, "settings", "show").output
    assert "enableUserPrivateLiveRoom = true" in shown
    assert "privateRoomMinimumRole = viewerRole" in shown
    assert "liveRoomEnabled = false" in shown, "a bare install has the module off"


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("liveRoomEnabled", "maybe", "Error: liveRoomEnabled takes true or false, not 'maybe'"),
        ("privateRoomMinimumRole", "bossRole", "Error: unknown role 'bossRole'"),
        (
            "privateRoomMinimumRole",
            "anonymousRole",
            "Error: privateRoomMinimumRole must be viewerRole or above",
        ),
        ("colour", "blue", "Error: unknown setting 'colour'"),
    ],
)
def test_settings_set_rejects_bad_input(app, runner, key, value, message):
    result = run(runner, "settings", "set", key, value)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(message)
    assert count(app, Setting) == 0


def test_demo_is_idempotent_and_prints_logins(app, runner):
    first = run(runner, "demo")
    second = run(runner, "demo")
    assert first.exit_code == second.exit_code == 0
    assert "teacher   / liveroom-teacher" in second.output
    assert count(app, User) == 4
    assert count(app, Channel) == 2
    with app.app_context():
        biology = db.session.scalar(sa.select(Channel).where(Channel.name == "Biology 101"))
        roles = sorted((m.user.username, m.role.value) for m in biology.memberships)
        assert roles == [("student1", "member"), ("student2", "member"), ("teacher", "manager")]
    shown = run(runner, "settings", "show").output
    assert "liveRoomEnabled = true" in shown and "enableUserPrivateLiveRoom = true" in shown


@pytest.mark.parametrize("username", ["sam\u202e", "s\u200bam", "sa\x00m", "sam lee", ""])
def test_usernames_with_invisible_characters_are_refused(app, runner, username):
    result = run(runner, "users", "create", username, "--password", "longenough")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: Usernames are 1 to 64 characters without spaces or invisible characters."
    )
    assert count(app, User) == 0


def test_a_channel_is_found_by_its_name_in_either_unicode_form(app, runner):
    assert run(runner, "channels", "create", "Caf\u00e9 club").exit_code == 0
    run(runner, "users", "create", "sam", "--password", "longenough")
    result = run(runner, "channels", "add-member", "Cafe\u0301 club", "sam", "--role", "member")
    assert result.exit_code == 0, result.output
