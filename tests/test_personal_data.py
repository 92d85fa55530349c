"""A person's data on request: everything stored about them, and erasing it."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import ChatMessage, LiveSession, Participation, User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import HTMX, PASSWORD, as_user, open_stream

SECRETS = ("samuel_lee", "Samuel Leeworth", "Biscuitron", "biscuit.keeper@home.example")


def run(runner, *args, **kwargs):
    return runner.invoke(args=[str(arg) for arg in args], **kwargs)


class Term:
    """Biology 101 met once: Samuel wrote in public and privately, raised his hand and
    left; Priya wrote too. Samuel also held a meeting in his own room, and has a room
    he never used, a failed log-in, a role change in the audit log, an email address
    and a place on an import's temporary password handout still waiting to be
    downloaded."""

    def __init__(self, app, world, runner):
        self.app = app
        world.user("admin", AppRole.ADMIN, name="Alex Admin")
        world.user("teacher", name="Maria Rivera")
        world.user("samuel_lee", AppRole.PRIVATE_ONLY, name="Samuel Leeworth")
        world.user("priya", name="Priya Patel")
        world.enable()
        roles = {"teacher": ChannelRole.MANAGER}
        roles |= {"samuel_lee": ChannelRole.MEMBER, "priya": ChannelRole.MEMBER}
        self.room = world.room_of(world.channel(**roles))
        self.own_room = world.private_room("samuel_lee", "Samuel Leeworth's study group")
        world.private_room("samuel_lee", "Biscuitron fan club")
        teacher, self.samuel, priya = (as_user(app, n) for n in ("teacher", "samuel_lee", "priya"))
        self.post(teacher, "start")
        self.post(self.samuel, "join")
        self.post(priya, "join")
        self.post(self.samuel, "chat", body="My hamster Biscuitron ate my homework")
        self.post(self.samuel, "chat", body="Biscuitron is unwell", to="instructors")
        self.post(priya, "chat", body="Priya's own words about cells")
        self.post(self.samuel, "hand", raised="1")
        with app.app_context():
            self.samuel_id = db.session.scalar(
                sa.select(User.id).where(User.username == "samuel_lee")
            )
        with app.app_context():
            from liveroom import handouts

            samuel = db.session.get(User, self.samuel_id)
            samuel.email = "biscuit.keeper@home.example"
            samuel.locale, samuel.announcements_off, samuel.shortcuts_on = "es", "chat,hands", False
            admin_id = db.session.scalar(sa.select(User.id).where(User.username == "admin"))
            rows = [("priya", "Priya Patel", "tmp-one"), ("samuel_lee", "Samuel Leeworth", "x")]
            handouts.keep(rows, admin_id)
            db.session.commit()
        self.post(teacher, "chat", body="Hope Biscuitron gets better", to=str(self.samuel_id))
        self.post(self.samuel, "leave")
        self.post(teacher, "end")
        self.post(self.samuel, "start", room=self.own_room)
        self.post(priya, "join", room=self.own_room)
        self.post(self.samuel, "end", room=self.own_room)
        app.test_client().post("/login", data={"username": "samuel_lee", "password": "wrong!"})
        assert run(runner, "users", "set-role", "samuel_lee", "privateOnlyRole").exit_code == 0
        assert run(runner, "users", "set-role", "samuel_lee", "viewerRole").exit_code == 0

    def post(self, client, action, room=None, **data):
        response = client.post(f"/rooms/{room or self.room}/{action}", data=data, headers=HTMX)
        assert response.status_code < 400, (action, response.get_data(as_text=True))
        return response

    def attendance_counts(self) -> list:
        with self.app.app_context():
            return db.session.execute(
                sa.select(
                    Participation.session_id,
                    sa.func.count(),
                    sa.func.count(sa.distinct(Participation.user_id)),
                )
                .group_by(Participation.session_id)
                .order_by(Participation.session_id)
            ).all()

    def everything_stored(self) -> str:
        """Every value of every row of every table, as one text."""
        values = []
        with self.app.app_context():
            for table in db.metadata.sorted_tables:
                for row in db.session.execute(sa.select(table)):
                    values.extend(str(value) for value in row)
        return "\n".join(values)


@pytest.fixture
def term(app, world, runner):
    return Term(app, world, runner)


def test_export_holds_the_persons_data_and_nobody_elses(term, runner):
    result = run(runner, "people", "export", "samuel_lee")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)

    assert data["account"]["username"] == "samuel_lee"
    assert data["account"]["display_name"] == "Samuel Leeworth"
    assert data["account"]["email"] == "biscuit.keeper@home.example"
    assert data["account"]["must_change_password"] is False
    assert (data["account"]["locale"], data["account"]["shortcuts_on"]) == ("es", False)
    assert data["account"]["announcements_off"] == "chat,hands"
    assert [m["role"] for m in data["memberships"]] == ["member"]
    assert {r["name"] for r in data["private_rooms"]} == {
        "Samuel Leeworth's study group",
        "Biscuitron fan club",
    }
    written = {m["text"]: m["private"] for m in data["chat_messages_written"]}
    assert written == {
        "My hamster Biscuitron ate my homework": False,
        "Biscuitron is unwell": True,
    }
    assert [m["text"] for m in data["private_messages_to_them"]] == ["Hope Biscuitron gets better"]
    assert len(data["attendance"]) == 2 and "hand_raised_at" in data["attendance"][0]
    assert data["login_sessions"] and "token" not in json.dumps(data["login_sessions"])
    assert [hit["counted_as"].endswith(":samuel_lee") for hit in data["failed_log_ins"]] == [True]
    assert len(data["audit_entries"]) == 2
    assert any(e["kind"] == "participant_joined" for e in data["room_events_naming_them"])
    for someone_else in ("Priya", "priya", "Maria", "teacher", "Alex", "admin", "cells"):
        assert someone_else not in result.output


def test_export_writes_to_a_file(term, runner, tmp_path):
    result = run(runner, "people", "export", "samuel_lee", "--output", tmp_path / "sam.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "sam.json").read_text())["account"]["username"] == "samuel_lee"


def test_erase_leaves_nothing_that_identifies_and_keeps_attendance_counts(term, runner):
    counts = term.attendance_counts()
    assert all(secret in term.everything_stored() for secret in SECRETS)

    result = run(runner, "people", "erase", "samuel_lee", "--yes")

    assert result.exit_code == 0, result.output
    assert f"erased-{term.samuel_id}" in result.output
    stored = term.everything_stored().casefold()
    for secret in SECRETS:
        assert secret.casefold() not in stored
    assert term.attendance_counts() == counts
    assert "Priya's own words about cells" in term.everything_stored()
    with term.app.app_context():
        user = db.session.get(User, term.samuel_id)
        assert (user.username, user.display_name, user.role) == (
            f"erased-{term.samuel_id}",
            "Former member",
            AppRole.ANONYMOUS,
        )
        assert not user.check_password(PASSWORD)
        # His choices are reset: no language of his own, every announcement, shortcuts on.
        assert (user.locale, user.announcements_off, user.shortcuts_on) == (None, "", True)
        # His room with a meeting behind it stays, archived; the unused one went.
        rooms = db.session.execute(
            sa.select(LiveSession.room_id).where(LiveSession.started_by_id == user.id)
        ).all()
        assert len(rooms) == 1
        # His messages went, and his private thread, the teacher's side of it too.
        mine = sa.or_(ChatMessage.author_id == user.id, ChatMessage.thread_user_id == user.id)
        assert db.session.scalar(sa.select(sa.func.count()).where(mine)) == 0
    assert "erased (CLI)" in term.everything_stored()
    # His browser is logged out, and his name opens nothing.
    assert term.samuel.get("/channels/").status_code in (302, 401)
    login = term.app.test_client().post(
        "/login", data={"username": "samuel_lee", "password": PASSWORD}
    )
    assert login.status_code != 302


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody"], "Error: no user named 'nobody'"),
        (["admin", "--yes"], "Error: admin is the last admin; make someone else admin first"),
    ],
)
def test_erase_refuses_with_one_line(term, runner, args, message):
    result = run(runner, "people", "erase", *args)
    assert result.exit_code == 1
    assert result.output.strip() == message
    assert run(runner, "people", "export", "nobody").output.strip() == (
        "Error: no user named 'nobody'"
    )


def test_erase_refuses_someone_in_a_live_meeting(term, runner):
    teacher = as_user(term.app, "teacher")
    term.post(teacher, "start")
    term.post(term.samuel, "join")
    result = run(runner, "people", "erase", "samuel_lee", "--yes")
    assert result.exit_code == 1
    assert "is in a live meeting in 'Biology 101'" in result.output
    assert "Samuel Leeworth" in term.everything_stored()


def test_erase_asks_first(term, runner):
    result = run(runner, "people", "erase", "samuel_lee", input="n\n")
    assert result.exit_code == 1
    assert "This cannot be undone" in result.output
    assert "Samuel Leeworth" in term.everything_stored()


def test_erasing_someone_who_left_a_live_meeting_takes_their_words_off_open_pages(term, runner):
    teacher, priya = as_user(term.app, "teacher"), as_user(term.app, "priya")
    term.post(teacher, "start")
    term.post(term.samuel, "join")
    term.post(priya, "join")
    term.post(term.samuel, "chat", body="Biscuitron says hello")
    term.post(term.samuel, "leave")
    with term.app.app_context():
        message = db.session.scalar(
            sa.select(ChatMessage.id).where(ChatMessage.body == "Biscuitron says hello")
        )
        session = db.session.scalar(sa.select(LiveSession.id).where(LiveSession.ended_at.is_(None)))
    stream = open_stream(priya, term.room, session)

    assert run(runner, "people", "erase", "samuel_lee", "--yes").exit_code == 0

    stream.wait_for_text(f'id="msg-{message}" hx-swap-oob="delete"')
    assert "Biscuitron" not in priya.get(f"/rooms/{term.room}").get_data(as_text=True)
    stream.close()
