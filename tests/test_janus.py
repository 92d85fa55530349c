"""The app's Janus client against two real Janus servers (``scripts/ensure-janus``):
token authentication, a meeting's VideoRoom with its ``allowed`` list, kicking, and
what happens when Janus is not there.

A person's own Janus session is played here by ``Person``: the HTTP requests janus.js
makes (create a session with their token, attach the VideoRoom, join), the join's
answer read from the session's event long-poll as the browser reads it.
"""

from __future__ import annotations

import json
import secrets
import urllib.request
from pathlib import Path

import pytest

from liveroom.media.janus import (
    JanusClient,
    JanusError,
    JanusServer,
    JanusUnavailable,
    new_token,
)

# Media servers and browsers: the PostgreSQL run of `make test` only.
pytestmark = pytest.mark.media_server

SECRET_FILE = Path("/tmp/liveroom-janus/secret")


def server(port: int) -> JanusServer:
    if not SECRET_FILE.exists():
        pytest.fail("Janus is not running: scripts/ensure-janus starts it (make test does)")
    api = f"http://127.0.0.1:{port}/janus"
    return JanusServer(
        url=api,
        api_url=api,
        admin_url=f"http://127.0.0.1:{port - 1000}/admin",
        admin_secret=SECRET_FILE.read_text().strip(),
    )


@pytest.fixture
def janus() -> JanusClient:
    client = JanusClient(server(8188), app_token=new_token())
    client.start()
    yield client
    client.remove_token(client.app_token)


def post(url: str, body: dict) -> dict:
    body = {"transaction": secrets.token_hex(6), **body}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


class Person:
    """Someone's browser talking to Janus with their token, as janus.js does."""

    def __init__(self, janus: JanusClient, token: str) -> None:
        self.api = janus.server.api_url
        self.token = token

    def session(self) -> dict:
        return post(self.api, {"janus": "create", "token": self.token})

    def join(self, room: int, uid: int) -> dict:
        """Join the room as a publisher named by their user id; Janus's event."""
        created = self.session()
        assert created["janus"] == "success", created
        session = created["data"]["id"]
        attached = post(
            f"{self.api}/{session}",
            {"janus": "attach", "plugin": "janus.plugin.videoroom", "token": self.token},
        )
        handle = attached["data"]["id"]
        body = {"request": "join", "ptype": "publisher", "room": room, "id": uid}
        ack = post(
            f"{self.api}/{session}/{handle}",
            {"janus": "message", "body": {**body, "token": self.token}, "token": self.token},
        )
        assert ack["janus"] == "ack", ack
        with urllib.request.urlopen(
            f"{self.api}/{session}?maxev=1&token={self.token}", timeout=10
        ) as response:
            event = json.loads(response.read())
        return event["plugindata"]["data"]


def test_only_tokens_the_app_added_open_a_janus_session(janus):
    pupil = new_token()
    assert Person(janus, pupil).session()["error"]["code"] == 403
    janus.add_token(pupil)
    assert Person(janus, pupil).session()["janus"] == "success"
    assert pupil in janus.tokens()
    janus.remove_token(pupil)
    assert Person(janus, pupil).session()["error"]["code"] == 403
    janus.remove_token(pupil)  # gone already: no error


def test_a_meetings_room_admits_only_the_tokens_on_its_list(janus):
    room = secrets.randbelow(2**40) + 1
    secret = secrets.token_urlsafe(16)
    admitted, other = new_token(), new_token()
    for token in (admitted, other):
        janus.add_token(token)
    janus.create_room(room, secret, publishers=30, bitrate=350_000, allowed=[admitted])
    try:
        assert janus.exists(room)
        refused = Person(janus, other).join(room, 2)
        assert refused["error_code"] == 433, refused  # "Unauthorized (not in the allowed list)"
        joined = Person(janus, admitted).join(room, 1)
        assert joined["videoroom"] == "joined" and joined["id"] == 1
        assert [p["id"] for p in janus.participants(room)] == [1]

        # Removed from the meeting: put out at once, and shut out from then on.
        janus.kick(room, secret, 1)
        assert janus.participants(room) == []
        janus.allow(room, secret, [admitted], allowed=False)
        assert Person(janus, admitted).join(room, 1)["error_code"] == 433
        janus.kick(room, secret, 1)  # not there: no error
        # Without the room's secret nobody edits the list.
        with pytest.raises(JanusError) as refused_edit:
            janus.allow(room, "not-the-secret", [other])
        assert refused_edit.value.code == 433
    finally:
        janus.destroy_room(room, secret)
    assert not janus.exists(room)
    janus.destroy_room(room, secret)  # gone already: no error
    for token in (admitted, other):
        janus.remove_token(token)


def test_rooms_are_private_but_listed_to_the_app(janus):
    room = secrets.randbelow(2**40) + 1
    secret = secrets.token_urlsafe(16)
    janus.create_room(room, secret, publishers=6, bitrate=350_000, allowed=[])
    try:
        assert room in [entry["room"] for entry in janus.rooms()]
        listed_without_key = janus.videoroom("list")["list"]
        assert room not in [entry["room"] for entry in listed_without_key]
    finally:
        janus.destroy_room(room, secret)


def test_a_janus_that_restarted_gets_the_apps_token_again(janus):
    janus.remove_token(janus.app_token)  # as a restarted Janus has forgotten it
    room = secrets.randbelow(2**40) + 1
    secret = secrets.token_urlsafe(16)
    janus._session = None
    janus.create_room(room, secret, publishers=6, bitrate=350_000, allowed=[])
    assert janus.exists(room)
    janus.destroy_room(room, secret)


def test_no_janus_there_is_a_clear_error_within_the_timeout():
    gone = JanusServer(
        url="http://127.0.0.1:9/janus",
        api_url="http://127.0.0.1:9/janus",
        admin_url="http://127.0.0.1:9/admin",
        admin_secret="x",
    )
    client = JanusClient(gone, app_token=new_token(), timeout=1.0)
    with pytest.raises(JanusUnavailable, match="127.0.0.1:9"):
        client.info()
    with pytest.raises(JanusUnavailable):
        client.start()


def test_the_second_server_is_another_janus(janus):
    second = JanusClient(server(8189), app_token=new_token())
    second.start()
    try:
        assert janus.info()["name"] == second.info()["name"] == "Janus WebRTC Server"
        room = secrets.randbelow(2**40) + 1
        second.create_room(room, "s", publishers=6, bitrate=350_000, allowed=[])
        assert second.exists(room) and not janus.exists(room)
        second.destroy_room(room, "s")
    finally:
        second.remove_token(second.app_token)
