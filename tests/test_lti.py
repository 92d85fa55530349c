"""LTI 1.3: a platform (tests/lti_platform.py) launches people into their course's
live room. Real signatures, a real key set fetched over HTTP, the real database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import Channel, LtiPlatform, Membership, SignInIdentity, User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import as_user
from tests.lti_platform import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, Platform

BIOLOGY = {"id": "c1", "label": "BIO1", "title": "Biology"}


@pytest.fixture
def platform(app):
    platform = Platform().start()
    with app.app_context():
        db.session.add(LtiPlatform(**platform.registration()))
        db.session.commit()
    yield platform
    platform.stop()


@pytest.fixture
def lms(app, world, platform):
    """Launches as people do: each person with a browser (a client) of their own."""
    world.enable()
    browsers: dict[str, object] = {}

    def launch(user: str, roles: list[str], course: dict | None = None, **token):
        client = browsers.setdefault(user, app.test_client())
        return platform.launch(client, user, roles, course or BIOLOGY, **token)

    launch.browsers = browsers
    return launch


def role_of(app, username: str, channel_name: str = "Biology") -> ChannelRole | None:
    with app.app_context():
        return db.session.scalar(
            sa.select(Membership.role)
            .join(User, User.id == Membership.user_id)
            .join(Channel, Channel.id == Membership.channel_id)
            .where(User.username == username, Channel.name == channel_name)
        )


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (User, Channel, Membership)
        )


def landing(client, answer) -> str:
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert "/channels/" in answer.headers["Location"]
    return client.get(answer.headers["Location"]).get_data(as_text=True)


def test_instructor_launch_makes_the_account_and_the_course_channel_and_can_start(app, lms):
    answer, _ = lms("teacher", [INSTRUCTOR])
    page = landing(lms.browsers["teacher"], answer)
    assert "<h1" in page and "Biology" in page
    assert "Start Meeting" in page
    assert role_of(app, "teacher") is ChannelRole.MANAGER
    with app.app_context():
        identity = db.session.scalar(sa.select(SignInIdentity))
        assert identity.kind == "lti"
        assert identity.issuer == "https://lms.example.org liveroom-tool"
        assert identity.subject == "user-teacher"
        assert identity.user.display_name == "Teacher"
        assert identity.user.role.value == "viewerRole"  # the site's defaultApplicationRole


def test_learner_launch_is_a_member_who_joins_the_meeting(app, lms):
    answer, _ = lms("teacher", [INSTRUCTOR])
    landing(lms.browsers["teacher"], answer)
    answer, _ = lms("pupil", [LEARNER])
    page = landing(lms.browsers["pupil"], answer)
    assert role_of(app, "pupil") is ChannelRole.MEMBER
    assert "Start Meeting" not in page
    with app.app_context():
        channel = db.session.scalar(sa.select(Channel).where(Channel.name == "Biology"))
        room = channel.room.public_id
    teacher = lms.browsers["teacher"]
    assert teacher.post(f"/rooms/{room}/start").status_code in (200, 302, 303)
    page = lms.browsers["pupil"].get(answer.headers["Location"]).get_data(as_text=True)
    assert "Join Meeting" in page


def test_the_highest_mapped_role_wins(app, lms):
    lms("ta", [LEARNER, TEACHING_ASSISTANT])
    assert role_of(app, "ta") is ChannelRole.MODERATOR


def test_two_courses_with_one_title_get_two_channels_told_apart_by_label(app, lms):
    lms("teacher", [INSTRUCTOR])
    lms("teacher", [INSTRUCTOR], {"id": "c2", "label": "BIO2", "title": "Biology"})
    lms("teacher", [INSTRUCTOR], {"id": "c3", "title": "Biology"})
    with app.app_context():
        names = set(db.session.scalars(sa.select(Channel.name)))
    assert names == {"Biology", "Biology (BIO2)", "Biology (c3)"}
    # The same course again finds its channel.
    lms("teacher", [INSTRUCTOR], {"id": "c2", "label": "BIO2", "title": "Biology, renamed"})
    assert counts(app)[1] == 3


def test_a_later_launch_with_another_role_changes_the_membership(app, lms, world):
    lms("teacher", [INSTRUCTOR])
    lms("helper", [INSTRUCTOR])
    assert role_of(app, "helper") is ChannelRole.MANAGER
    lms("helper", [LEARNER])
    assert role_of(app, "helper") is ChannelRole.MEMBER
    lms("helper", [TEACHING_ASSISTANT])
    assert role_of(app, "helper") is ChannelRole.MODERATOR


def test_a_live_meeting_follows_the_role_change(app, lms):
    answer, _ = lms("teacher", [INSTRUCTOR])
    landing(lms.browsers["teacher"], answer)
    lms("helper", [INSTRUCTOR])
    with app.app_context():
        room = db.session.scalar(sa.select(Channel).where(Channel.name == "Biology")).room.public_id
    helper = lms.browsers["helper"]
    assert helper.post(f"/rooms/{room}/start").status_code in (200, 302, 303)
    assert "End meeting for everyone" in helper.get(f"/rooms/{room}").get_data(as_text=True)
    lms("helper", [LEARNER])
    page = helper.get(f"/rooms/{room}").get_data(as_text=True)
    assert role_of(app, "helper") is ChannelRole.MEMBER
    assert "End meeting for everyone" not in page


def test_a_launch_never_demotes_the_last_manager(app, lms):
    lms("teacher", [INSTRUCTOR])
    answer, _ = lms("teacher", [LEARNER])
    page = landing(lms.browsers["teacher"], answer)
    assert role_of(app, "teacher") is ChannelRole.MANAGER
    assert "You stay Manager of this channel" in page


def test_a_channel_made_by_a_learner_has_no_manager_until_an_instructor_launches(app, lms):
    lms("pupil", [LEARNER])
    with app.app_context():
        roles = set(db.session.scalars(sa.select(Membership.role)))
    assert roles == {ChannelRole.MEMBER}
    lms("teacher", [INSTRUCTOR])
    assert role_of(app, "teacher") is ChannelRole.MANAGER


def test_the_admins_mapping_decides(app, lms):
    from liveroom.lti import roles

    with app.app_context():
        mapping = roles.current_mapping()
        mapping["Learner"] = ChannelRole.CONTRIBUTOR
        roles.save_mapping(mapping)
        db.session.commit()
    lms("pupil", [LEARNER])
    assert role_of(app, "pupil") is ChannelRole.CONTRIBUTOR


# --- Refusals: a clear page, nothing made ---------------------------------------------


def refused(app, answer, words: str) -> None:
    text = answer.get_data(as_text=True)
    assert answer.status_code in (400, 403), text
    assert words in text
    assert "Nothing was changed in Liveroom." in text


def test_a_replayed_launch_is_refused(app, lms, platform):
    answer, form = lms("teacher", [INSTRUCTOR])
    assert answer.status_code == 303
    before = counts(app)
    again = lms.browsers["teacher"].post("/lti/launch", data=form)
    refused(app, again, "This launch was used already")
    # From another browser too.
    other = app.test_client()
    other.set_cookie(*next(iter(_state_cookie(lms.browsers["teacher"]))))
    refused(app, other.post("/lti/launch", data=form), "This launch was used already")
    assert counts(app) == before


def _state_cookie(client):
    for cookie in client._cookies.values():
        if cookie.key.startswith("lti1p3-state"):
            yield cookie.key, cookie.value


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ({"kid_key": "other"}, "The launch was signed with an unknown key"),
        ({"expires_in": -60}, "This launch has expired"),
        ({"deployment_id": "42"}, "This deployment is not registered"),
        ({"audience": "another-tool"}, "This learning platform is not registered"),
        ({"issuer": "https://elsewhere.example.org"}, "This learning platform is not registered"),
    ],
    ids=["wrong-kid", "expired", "unknown-deployment", "wrong-audience", "unknown-issuer"],
)
def test_a_bad_launch_is_refused_with_a_clear_page(app, lms, platform, token, words):
    if token.get("kid_key") == "other":
        token["kid_key"] = platform.other_key
    before = counts(app)
    answer, _ = lms("teacher", [INSTRUCTOR], **token)
    refused(app, answer, words)
    assert counts(app) == before


def test_an_unknown_platforms_login_initiation_is_refused(app, lms, platform):
    answer = platform.initiate(app.test_client(), "teacher", issuer="https://elsewhere.example.org")
    refused(app, answer, "This learning platform is not registered")


def test_a_browser_that_blocks_the_frames_cookies_is_offered_a_new_window(app, platform):
    client = app.test_client()
    answer = client.get(
        "/lti/login",
        query_string={
            "iss": platform.issuer,
            "login_hint": "t",
            "client_id": platform.client_id,
            "cookie_check": "1",
        },
    )
    text = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Open in a new window" in text and "lti1p3_new_window=1" in text


def test_the_tool_publishes_its_key_set(client):
    keys = client.get("/lti/jwks.json").get_json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["kid"]
    assert "d" not in keys[0]  # the public half only
    assert client.get("/lti/jwks.json").get_json() == {"keys": keys}


def test_pages_may_be_framed_by_registered_platforms_only(app, client, world, platform):
    from liveroom.lti.platforms import remove_platform

    answer = client.get("/login")
    assert "frame-ancestors https://lms.example.org" in answer.headers["Content-Security-Policy"]
    admin = world.user("admin", AppRole.ADMIN)
    with app.app_context():
        remove_platform(db.session.scalar(sa.select(LtiPlatform)), db.session.get(User, admin))
    answer = client.get("/login")
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_the_session_cookie_works_in_a_frame_over_https(tmp_path, platform):
    from tests.conftest import make_app

    app = make_app(tmp_path / "https", SESSION_COOKIE_SECURE=True)
    with app.app_context():
        db.session.add(LtiPlatform(**platform.registration()))
        db.session.commit()
    client = app.test_client()
    answer, _ = platform.launch(client, "teacher", [INSTRUCTOR], BIOLOGY)
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie


# --- The admin's page ------------------------------------------------------------------


def test_admin_registers_a_platform_and_sees_what_to_paste(app, world):
    world.user("admin", AppRole.ADMIN)
    admin = as_user(app, "admin")
    page = admin.get("/admin/lti").get_data(as_text=True)
    assert "http://localhost/lti/login" in page
    assert "http://localhost/lti/launch" in page
    assert "http://localhost/lti/jwks.json" in page
    assert "BEGIN PUBLIC KEY" in page and "PRIVATE" not in page
    form = {
        "name": "School Moodle",
        "issuer": "https://moodle.school.example",
        "client_id": "abc123",
        "deployment_ids": "1\n2\n",
        "auth_login_url": "http://moodle.school.example/mod/lti/auth.php",
        "auth_token_url": "https://moodle.school.example/mod/lti/token.php",
        "key_set_url": "https://moodle.school.example/mod/lti/certs.php",
    }
    answer = admin.post("/admin/lti/platforms", data=form)
    assert answer.status_code == 422
    assert "must start with https://" in answer.get_data(as_text=True)
    form["auth_login_url"] = "https://moodle.school.example/mod/lti/auth.php"
    answer = admin.post("/admin/lti/platforms", data=form, follow_redirects=True)
    assert "School Moodle is registered." in answer.get_data(as_text=True)
    with app.app_context():
        platform = db.session.scalar(sa.select(LtiPlatform))
        assert platform.deployments == ["1", "2"]
    answer = admin.post("/admin/lti/platforms", data=form)
    assert "School Moodle already has this issuer and client id." in answer.get_data(as_text=True)


def test_only_admins_reach_the_lti_page(app, world):
    world.user("teacher")
    assert as_user(app, "teacher").get("/admin/lti").status_code == 403


def test_admin_edits_the_role_mapping(app, world):
    from liveroom.lti import roles

    world.user("admin", AppRole.ADMIN)
    admin = as_user(app, "admin")
    form = {f"role-{name}": role.value for name, role in roles.DEFAULT_MAPPING.items()}
    form.update({"role-Learner": "remove", "new_role": "Mentor", "new_channel_role": "moderator"})
    answer = admin.post("/admin/lti/roles", data=form, follow_redirects=True)
    assert "The role mapping is saved." in answer.get_data(as_text=True)
    with app.app_context():
        mapping = roles.current_mapping()
    assert "Learner" not in mapping and mapping["Mentor"] is ChannelRole.MODERATOR
    form = {"role-*": "member", "new_role": "Not a role!", "new_channel_role": "member"}
    form.update({f"role-{name}": role.value for name, role in mapping.items()})
    answer = admin.post("/admin/lti/roles", data=form)
    assert answer.status_code == 422
    assert "is not an LTI role name" in answer.get_data(as_text=True)


def test_export_and_erasure_cover_the_lti_identity(app, lms):
    from liveroom import personal_data

    lms("teacher", [INSTRUCTOR])
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "teacher"))
        exported = personal_data.export(user)
        assert exported["sign_in_identities"][0]["kind"] == "lti"
        personal_data.erase(user)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SignInIdentity)) == 0
