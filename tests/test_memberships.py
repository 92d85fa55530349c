"""A channel's members: added, removed and given roles by its Managers (from the
channel page) and by admins (any channel); the last Manager stays, even against two
requests at once; role changes reach a live meeting at once."""

from __future__ import annotations

import threading

import pytest
import requests
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import AuditEntry, Membership, Participation, User
from liveroom.roles import AppRole, ChannelRole, RoomRole
from tests.conftest import HTMX, as_user, text_of
from tests.workers import Gunicorn


@pytest.fixture
def biology(app, world):
    """Biology 101: Maria its Manager, Sam a Member; Chemistry: Ken its Manager."""
    world.user("maria", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.user("sam", name="Sam Lee")
    world.user("priya", name="Priya Patel")
    world.user("ken", AppRole.PRIVATE_ONLY, name="Ken Ito")
    world.user("alex", AppRole.ADMIN, name="Alex Admin")
    channel_id = world.channel("Biology 101", maria=ChannelRole.MANAGER, sam=ChannelRole.MEMBER)
    world.channel("Chemistry", ken=ChannelRole.MANAGER)
    return channel_id


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.username == username))


def role_of(app, channel_id: int, username: str) -> ChannelRole | None:
    with app.app_context():
        return db.session.scalar(
            sa.select(Membership.role)
            .join(User, User.id == Membership.user_id)
            .where(Membership.channel_id == channel_id, User.username == username)
        )


def last_audit(app) -> tuple[str, str]:
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).order_by(AuditEntry.id.desc()))
        return entry.action, entry.detail


def test_manager_adds_a_member_from_the_channel_page(app, biology):
    maria = as_user(app, "maria")
    page = maria.get(f"/channels/{biology}")
    assert "Add member" in text_of(page)
    added = maria.post(
        f"/channels/{biology}/members", data={"username": "Priya", "role": "member"}, headers=HTMX
    )
    assert added.status_code == 200
    assert "Priya Patel added as Member." in text_of(added)
    assert 'id="members-status" hx-swap-oob="innerHTML"' in added.get_data(as_text=True)
    assert role_of(app, biology, "priya") is ChannelRole.MEMBER
    assert last_audit(app) == ("membership_added", "priya: member of Biology 101")


def test_adding_explains_what_went_wrong(app, biology):
    maria = as_user(app, "maria")
    url = f"/channels/{biology}/members"
    nobody = maria.post(url, data={"username": "nobody", "role": "member"}, headers=HTMX)
    assert nobody.status_code == 422
    assert "No account has the username “nobody”." in text_of(nobody)
    twice = maria.post(url, data={"username": "sam", "role": "manager"}, headers=HTMX)
    assert twice.status_code == 409
    assert "Sam Lee is already a member (Member)" in text_of(twice)
    bad_role = maria.post(url, data={"username": "priya", "role": "owner"}, headers=HTMX)
    assert bad_role.status_code == 422
    assert role_of(app, biology, "priya") is None


def test_manager_changes_a_role_and_removes_a_member(app, biology):
    maria = as_user(app, "maria")
    sam = user_id(app, "sam")
    changed = maria.post(
        f"/channels/{biology}/members/{sam}/role", data={"role": "moderator"}, headers=HTMX
    )
    assert "Sam Lee is now Moderator." in text_of(changed)
    assert role_of(app, biology, "sam") is ChannelRole.MODERATOR
    assert last_audit(app) == ("membership_role_changed", "sam: member → moderator of Biology 101")
    removed = maria.post(f"/channels/{biology}/members/{sam}/remove", headers=HTMX)
    assert "Sam Lee removed from the channel." in text_of(removed)
    assert role_of(app, biology, "sam") is None
    assert last_audit(app)[0] == "membership_removed"


def test_plain_form_posts_go_back_to_their_page(app, biology):
    maria = as_user(app, "maria")
    sam = user_id(app, "sam")
    response = maria.post(f"/channels/{biology}/members/{sam}/role", data={"role": "contributor"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/channels/{biology}")
    admin = as_user(app, "alex")
    response = admin.post(
        f"/channels/{biology}/members/{sam}/role", data={"role": "member", "back": "admin"}
    )
    assert response.headers["Location"].endswith(f"/admin/channels/{biology}")


def test_the_last_manager_is_neither_demoted_nor_removed(app, biology):
    maria = as_user(app, "maria")
    me = user_id(app, "maria")
    demoted = maria.post(
        f"/channels/{biology}/members/{me}/role", data={"role": "member"}, headers=HTMX
    )
    assert demoted.status_code == 409
    assert "Maria Rivera is this channel's last Manager" in text_of(demoted)
    admin = as_user(app, "alex")
    removed = admin.post(f"/channels/{biology}/members/{me}/remove", headers=HTMX)
    assert removed.status_code == 409
    assert role_of(app, biology, "maria") is ChannelRole.MANAGER


def test_admins_are_not_counted_as_managers(app, world, biology):
    world.add_member(biology, "alex", ChannelRole.MANAGER)
    admin = as_user(app, "alex")
    me = user_id(app, "maria")
    refused = admin.post(f"/channels/{biology}/members/{me}/remove", headers=HTMX)
    assert refused.status_code == 409
    # With a second Manager who is not an admin, Maria may go.
    admin.post(
        f"/channels/{biology}/members/{user_id(app, 'sam')}/role",
        data={"role": "manager"},
        headers=HTMX,
    )
    assert admin.post(f"/channels/{biology}/members/{me}/remove", headers=HTMX).status_code == 200


def test_admin_manages_any_channel_from_the_console(app, biology):
    admin = as_user(app, "alex")
    page = admin.get(f"/admin/channels/{biology}")
    assert page.status_code == 200
    assert "Sam Lee" in text_of(page) and "Add member" in text_of(page)
    added = admin.post(
        f"/channels/{biology}/members", data={"username": "priya", "role": "moderator"}
    )
    assert added.status_code == 303
    assert role_of(app, biology, "priya") is ChannelRole.MODERATOR


def test_a_manager_is_refused_on_another_channel(app, biology):
    ken = as_user(app, "ken")
    sam = user_id(app, "sam")
    assert ken.get(f"/channels/{biology}/members", headers=HTMX).status_code == 403
    refused = ken.post(f"/channels/{biology}/members", data={"username": "priya", "role": "member"})
    assert refused.status_code == 403
    assert "Only this channel's Managers" in text_of(refused)
    assert (
        ken.post(f"/channels/{biology}/members/{sam}/role", data={"role": "manager"}).status_code
        == 403
    )
    assert ken.post(f"/channels/{biology}/members/{sam}/remove").status_code == 403
    assert role_of(app, biology, "sam") is ChannelRole.MEMBER
    assert role_of(app, biology, "priya") is None


@pytest.mark.parametrize(
    "role", [ChannelRole.MODERATOR, ChannelRole.CONTRIBUTOR, ChannelRole.MEMBER]
)
def test_other_members_cannot_manage_and_see_no_controls(app, world, biology, role):
    world.add_member(biology, "priya", role)
    priya = as_user(app, "priya")
    page = priya.get(f"/channels/{biology}")
    assert "Add member" not in text_of(page)
    assert "Maria Rivera" in text_of(page)
    maria = user_id(app, "maria")
    assert priya.post(f"/channels/{biology}/members/{maria}/remove").status_code == 403
    assert priya.post(f"/channels/{biology}/members", data={"username": "ken"}).status_code == 403


# --- Live meetings follow ------------------------------------------------------------


def stay_of(app, username: str) -> Participation | None:
    with app.app_context():
        return db.session.scalar(
            sa.select(Participation)
            .join(User, User.id == Participation.user_id)
            .where(User.username == username)
            .order_by(Participation.id.desc())
        )


@pytest.fixture
def meeting(app, world, biology):
    world.enable()
    room = world.room_of(biology)
    maria, sam = as_user(app, "maria"), as_user(app, "sam")
    assert maria.post(f"/rooms/{room}/start", headers=HTMX).status_code == 200
    assert sam.post(f"/rooms/{room}/join", headers=HTMX).status_code == 200
    assert stay_of(app, "sam").room_role is RoomRole.PARTICIPANT
    return maria


def test_a_member_made_moderator_is_an_instructor_in_the_live_room_at_once(app, biology, meeting):
    sam = user_id(app, "sam")
    meeting.post(
        f"/channels/{biology}/members/{sam}/role", data={"role": "moderator"}, headers=HTMX
    )
    stay = stay_of(app, "sam")
    assert stay.left_at is None and stay.room_role is RoomRole.INSTRUCTOR and not stay.promoted
    # And back: a Moderator made Member loses the instructor's powers at once.
    meeting.post(f"/channels/{biology}/members/{sam}/role", data={"role": "member"}, headers=HTMX)
    assert stay_of(app, "sam").room_role is RoomRole.PARTICIPANT


def test_someone_removed_from_the_channel_leaves_its_live_meeting(app, biology, meeting):
    sam = user_id(app, "sam")
    meeting.post(f"/channels/{biology}/members/{sam}/remove", headers=HTMX)
    assert stay_of(app, "sam").left_at is not None


# --- Two requests at once, against real workers --------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Gunicorn(tmp_path_factory.mktemp("memberships"))
    yield server
    server.stop()


def at_once(calls: list) -> list[requests.Response]:
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def managers(server: Gunicorn) -> int:
    return server.scalar(
        "SELECT count(*) FROM membership WHERE channel_id = 1 AND role = 'manager'"
    )


@pytest.mark.parametrize("action", ["demote", "remove"])
def test_two_requests_at_once_never_take_away_the_last_two_managers(server, action):
    admin = server.login("admin", "liveroom-admin")
    ids = {
        name: server.scalar('SELECT id FROM "user" WHERE username = :u', u=name)
        for name in ("teacher", "student1")
    }
    for _ in range(5):
        for name in ("teacher", "student1"):  # both Managers again
            uid = ids[name]
            admin.post(
                f"{server.base}/channels/1/members", data={"username": name, "role": "manager"}
            )
            admin.post(f"{server.base}/channels/1/members/{uid}/role", data={"role": "manager"})
        assert managers(server) == 2

        def change(uid: int):
            base = f"{server.base}/channels/1/members/{uid}"
            if action == "demote":
                return lambda: admin.post(f"{base}/role", data={"role": "member"})
            return lambda: admin.post(f"{base}/remove")

        answers = at_once([change(ids["teacher"]), change(ids["student1"])])
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [200, 409], [a.text[:300] for a in answers]
        assert managers(server) == 1
        refused = next(a for a in answers if a.status_code == 409)
        assert "last Manager" in refused.text
