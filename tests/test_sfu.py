"""A meeting's room and its people's passes on two real Janus servers
(``scripts/ensure-janus``), kept in the real database: the room is made on the
server with fewer rooms and stays there, a pass admits its stay and nobody else,
withdrawing it shuts the person out at once, the meeting's end destroys the room,
and the sweep cleans up what was left behind."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.media.janus import JanusClient, JanusServer, new_token
from liveroom.media.sfu import JANUS_PUBLISHERS, app_token, sfu_of
from liveroom.models import LiveSession, MediaPass, MediaRoom, Participation, utcnow
from liveroom.roles import ChannelRole
from tests.conftest import World, as_user, make_app
from tests.test_janus import Person, server
from tests.test_staff_rules import Meeting

# Media servers and browsers: the PostgreSQL run of `make test` only.
pytestmark = pytest.mark.media_server


@pytest.fixture
def janus_app(tmp_path):
    return make_app(
        tmp_path,
        LIVEROOM_JANUS_SERVERS=[server(8188), server(8189)],
        LIVEROOM_JANUS_TIMEOUT=2.0,
    )


@pytest.fixture
def meeting(janus_app):
    return Meeting(janus_app, World(janus_app))


def stays(meeting, *usernames):
    return [db.session.get(Participation, meeting.stay(name)) for name in usernames]


def janus_at(url: str) -> JanusClient:
    port = int(url.split(":")[2].split("/")[0])
    configured = server(port)
    return JanusClient(configured, app_token(configured))


def test_a_meetings_room_is_made_as_it_starts_and_kept(meeting, janus_app):
    with janus_app.app_context():
        sfu = sfu_of()
        session = db.session.get(LiveSession, meeting.session)
        room = db.session.get(MediaRoom, session.id)
        assert room is not None, "Start Meeting made it"
        assert sfu.open_room(session).room == room.room, "it stays where it was made"
        janus = janus_at(room.server)
        listed = {entry["room"]: entry for entry in janus.rooms()}
        assert listed[room.room]["max_publishers"] == JANUS_PUBLISHERS
        assert listed[room.room]["bitrate_cap"] is True
        sfu.close(session.id)
        db.session.commit()
        assert not janus.exists(room.room)
        assert db.session.get(MediaRoom, session.id) is None


def test_sessions_spread_over_both_servers(janus_app, tmp_path):
    world = World(janus_app)
    first = Meeting(janus_app, world)
    with janus_app.app_context():
        sfu = sfu_of()
        # Four meetings' rooms, made one after the other: each goes where rooms are fewest.
        made = [sfu.open_room(db.session.get(LiveSession, first.session))]
        for _ in range(3):
            room_id = db.session.get(LiveSession, first.session).room_id
            other = LiveSession(room_id=room_id, started_by_id=1, ended_at=utcnow())
            db.session.add(other)
            db.session.flush()
            made.append(sfu.open_room(other))
        db.session.commit()
        assert {room.server for room in made} == set(sfu.clients), "both servers used"
        for room in made:
            sfu.close(room.session_id)
        db.session.commit()


def sam_and_priya_admitted(meeting):
    """(sfu, session, Sam's stay, Priya's stay, the room, Sam's pass, Priya's pass)."""
    sfu = sfu_of()
    session = db.session.get(LiveSession, meeting.session)
    sam, priya = stays(meeting, "sam", "priya")
    room, sams = sfu.admit(session, sam)
    _, priyas = sfu.admit(session, priya)
    db.session.commit()
    return sfu, session, sam, priya, room, sams, priyas


def test_a_pass_admits_its_stay_and_withdrawing_it_shuts_them_out(meeting, janus_app):
    with janus_app.app_context():
        sfu, session, sam, priya, room, sams, priyas = sam_and_priya_admitted(meeting)
        assert sfu.admit(session, sam)[1].token == sams.token, "one pass per stay"
        janus = janus_at(room.server)
        joined = Person(janus, sams.token).join(room.room, sam.user_id)
        assert joined["videoroom"] == "joined"
        # A token Janus knows, but not on this room's list: refused.
        stranger = new_token()
        janus.add_token(stranger)
        assert Person(janus, stranger).join(room.room, 999)["error_code"] == 433
        janus.remove_token(stranger)

        sfu.withdraw(sam)
        db.session.commit()
        assert sam.user_id not in [p["id"] for p in janus.participants(room.room)], "put out"
        assert Person(janus, sams.token).session()["error"]["code"] == 403, "token gone"
        assert db.session.get(MediaPass, sam.id) is None
        assert Person(janus, priyas.token).join(room.room, priya.user_id)["videoroom"] == "joined"
        sfu.close(session.id)
        db.session.commit()
        assert Person(janus, priyas.token).session()["error"]["code"] == 403


def test_the_sweep_withdraws_leftovers_of_ended_stays_and_meetings(meeting, janus_app):
    with janus_app.app_context():
        sfu, session, sam, priya, room, sams, _ = sam_and_priya_admitted(meeting)
        janus = janus_at(room.server)
        # Sam left while Janus could not be told (say): his pass is left over.
        sam.left_at = utcnow()
        db.session.commit()
        assert sfu.sweep() == 1
        assert Person(janus, sams.token).session()["error"]["code"] == 403
        assert db.session.get(MediaPass, priya.id) is not None, "Priya is still in"
        # The meeting ended the same way: the sweep destroys its room.
        session.ended_at = utcnow()
        db.session.commit()
        assert sfu.sweep() == 3  # the teacher's and Priya's passes, then the room
        assert not janus.exists(room.room)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MediaRoom)) == 0


GONE = JanusServer(
    "http://127.0.0.1:9/janus", "http://127.0.0.1:9/janus", "http://127.0.0.1:9/admin", "x"
)


def meeting_on_a_silent_janus(tmp_path):
    """An app whose one Janus server does not answer, and a meeting started in it."""
    app = make_app(tmp_path, LIVEROOM_JANUS_SERVERS=[GONE], LIVEROOM_JANUS_TIMEOUT=0.5)
    return app, Meeting(app, World(app))


def test_without_an_answering_server_there_is_no_room_and_no_pass(tmp_path):
    app, meeting = meeting_on_a_silent_janus(tmp_path)
    with app.app_context():
        session = db.session.get(LiveSession, meeting.session)
        (sam,) = stays(meeting, "sam")
        assert sfu_of().open_room(session) is None
        assert sfu_of().admit(session, sam) is None
        assert db.session.get(MediaRoom, session.id) is None


def test_janus_settings_are_read_and_bad_ones_stop_the_start(monkeypatch, tmp_path):
    from liveroom.config import load_config

    monkeypatch.setenv("LIVEROOM_JANUS_URLS", "https://media1.school.example/janus")
    monkeypatch.setenv("LIVEROOM_JANUS_API_URLS", "http://10.0.0.5:8088/janus")
    monkeypatch.setenv("LIVEROOM_JANUS_ADMIN_URLS", "http://10.0.0.5:7088/admin")
    monkeypatch.setenv("LIVEROOM_JANUS_ADMIN_SECRET", "admin-secret")
    monkeypatch.setenv("LIVEROOM_JANUS_URLS", "wss://media1.school.example/janus-ws")
    assert load_config(tmp_path)["LIVEROOM_JANUS_SERVERS"][0].url.startswith("wss://")
    monkeypatch.setenv("LIVEROOM_JANUS_URLS", "https://media1.school.example/janus")
    (configured,) = load_config(tmp_path)["LIVEROOM_JANUS_SERVERS"]
    assert configured == JanusServer(
        "https://media1.school.example/janus",
        "http://10.0.0.5:8088/janus",
        "http://10.0.0.5:7088/admin",
        "admin-secret",
    )
    for name, value, message in [
        ("LIVEROOM_JANUS_ADMIN_URLS", "", "one address per server"),
        ("LIVEROOM_JANUS_ADMIN_SECRET", "", "LIVEROOM_JANUS_ADMIN_SECRET must be set"),
        ("LIVEROOM_JANUS_URLS", "ftp://media1.school.example", "http:// or https://"),
        ("LIVEROOM_JANUS_API_URLS", "ws://10.0.0.5:8188", "http:// or https://"),
    ]:
        with monkeypatch.context() as changed:
            changed.setenv(name, value)
            with pytest.raises(RuntimeError, match=message) as raised:
                load_config(tmp_path)
            assert "\n" not in str(raised.value)
    monkeypatch.delenv("LIVEROOM_JANUS_API_URLS")
    monkeypatch.setenv("LIVEROOM_JANUS_URLS", "wss://media1.school.example/janus-ws")
    with pytest.raises(RuntimeError, match="LIVEROOM_JANUS_API_URLS must give"):
        load_config(tmp_path)


def media_config(meeting, who) -> dict:
    import html
    import json
    import re

    page = meeting.page(who).get_data(as_text=True)
    return json.loads(html.unescape(re.search(r"data-media='([^']+)'", page).group(1)))


def test_pages_get_the_janus_room_and_removal_leave_and_end_withdraw_it(meeting, janus_app):
    sams = media_config(meeting, "sam")
    assert sams["backend"] == "janus"
    room, token = sams["janus"]["room"], sams["janus"]["token"]
    assert media_config(meeting, "priya")["janus"]["token"] != token, "a token each"
    assert "http://127.0.0.1:818" in meeting.page("sam").headers["Content-Security-Policy"]
    janus = janus_at(sams["janus"]["server"])
    with janus_app.app_context():
        sam_id, priya_id = (p.user_id for p in stays(meeting, "sam", "priya"))
    assert Person(janus, token).join(room, sam_id)["videoroom"] == "joined"

    # Removed: put out of the Janus room at once, and the copy of his page is useless.
    assert meeting.post("teacher", f"people/{meeting.stay('sam')}/remove").status_code == 204
    assert sam_id not in [p["id"] for p in janus.participants(room)]
    assert Person(janus, token).session()["error"]["code"] == 403

    # Priya leaves: her token goes too.
    priyas = media_config(meeting, "priya")["janus"]["token"]
    assert meeting.post("priya", "leave").status_code in (200, 204, 303)
    assert Person(janus, priyas).session()["error"]["code"] == 403

    # The end of the meeting destroys its room.
    assert meeting.post("teacher", "end").status_code == 200
    assert not janus.exists(room)


def test_with_janus_down_at_the_start_the_meeting_keeps_to_the_mesh(tmp_path):
    app, meeting = meeting_on_a_silent_janus(tmp_path)
    assert media_config(meeting, "sam")["backend"] == "mesh"
    # Chat and the rest work as ever.
    assert meeting.post("sam", "chat", body="Is the video on?").status_code == 200


def test_a_small_meeting_on_a_server_that_stopped_answering_moves_to_the_mesh(tmp_path):
    from liveroom import events
    from liveroom.models import Event

    app, meeting = meeting_on_a_silent_janus(tmp_path)
    with app.app_context():
        # As if the server had answered at the start, then stopped.
        db.session.add(MediaRoom(session_id=meeting.session, server=GONE.url, room=7, secret="s"))
        db.session.commit()
        sfu = sfu_of()
        since = events.newest_id()
        assert sfu.fall_back() == 0, "one sweep without an answer is not enough"
        assert sfu.fall_back() == 1
        assert db.session.get(MediaRoom, meeting.session) is None
        moved = db.session.scalars(sa.select(Event).where(Event.id > since)).all()
        assert [e.data.get("action") for e in moved] == ["moved_to_mesh"]
    stream = meeting.stream("sam", last_event_id=since)
    assert stream.wait_for(lambda e: e.event == "refresh"), "every page reads its panel again"
    stream.close()
    assert media_config(meeting, "sam")["backend"] == "mesh"


def test_healthz_tells_the_media_servers_state_and_stays_200_without_them(tmp_path):
    app = make_app(
        tmp_path, LIVEROOM_JANUS_SERVERS=[server(8188), GONE], LIVEROOM_JANUS_TIMEOUT=0.5
    )
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json()["media_servers"] == {
        "http://127.0.0.1:8188/janus": "ok",
        GONE.url: "failed",
    }


def test_on_janus_a_meeting_carries_more_publishers_than_a_mesh(meeting):
    from liveroom.media.rules import MESH_PUBLISHERS

    # Seven people send audio or video: one more than a mesh carries.
    world = World(meeting.app)
    extra = [f"pupil{n}" for n in range(MESH_PUBLISHERS - 1)]
    for name in extra:
        world.user(name)
        world.add_member(meeting.channel, name, ChannelRole.MEMBER)
        meeting.people[name] = as_user(meeting.app, name)
        meeting.post(name, "join")
    for who in ["teacher", "sam", *extra]:
        answer = meeting.post(who, "media/state", session=meeting.session, kind="camera", on="1")
        assert answer.status_code == 204, (who, answer.get_data(as_text=True))


def test_two_requests_withdrawing_or_closing_at_once_both_succeed(meeting, janus_app):
    """A double click on Remove, or End and the sweep together: the second finds the
    work done (the pass or the room gone, at Janus and in the database), not a 500."""
    with janus_app.app_context():
        sfu = sfu_of()
        (sam,) = stays(meeting, "sam")
        db.session.get(MediaPass, sam.id)  # the first request has read the pass
        with janus_app.app_context():  # the second withdraws it meanwhile
            db.session.remove()
            sfu_of().withdraw(db.session.get(Participation, sam.id))
            db.session.commit()
        sfu.withdraw(sam)
        db.session.commit()
        assert db.session.get(MediaPass, sam.id) is None
        db.session.get(MediaRoom, meeting.session)
        sfu.close(meeting.session)
        db.session.commit()
        sfu.close(meeting.session)  # closed already: nothing to do
        db.session.commit()
        assert db.session.get(MediaRoom, meeting.session) is None


def test_janus_actions_refuse_outsiders_the_removed_and_participants(meeting, janus_app):
    world = World(janus_app)
    world.user("outsider")
    outsider = as_user(janus_app, "outsider")
    room = meeting.id
    assert outsider.get(f"/rooms/{room}/media/ice").status_code == 403
    assert outsider.post(f"/rooms/{room}/media/mute-all", data={"strong": "1"}).status_code == 403
    # A participant may not strong-mute the room, nor lift it.
    assert meeting.post("sam", "media/mute-all", strong="1").status_code == 403
    assert meeting.post("sam", "media/allow-all").status_code == 403
    # Removed: no credential, no page config with a token.
    assert meeting.post("teacher", f"people/{meeting.stay('priya')}/remove").status_code == 204
    assert meeting.people["priya"].get(f"/rooms/{room}/media/ice").status_code == 403
    assert "data-media=" not in meeting.page("priya").get_data(as_text=True)
