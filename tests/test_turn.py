"""TURN for school networks: credentials minted per person from coturn's shared secret.

The credential is checked against coturn's own algorithm computed another way
(OpenSSL's command line), the configuration's mistakes stop the start with one line,
and the app hands out credentials only to people present in the meeting. Real
browsers through the real coturn: tests/test_turn_browser.py.
"""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from liveroom.config import load_config
from liveroom.media.ice import ice_configuration, turn_credential
from tests.conftest import World, make_app
from tests.test_staff_rules import Meeting

# Media servers and browsers: the PostgreSQL run of `make test` only.
pytestmark = pytest.mark.media_server

COTURN_SECRET = Path("/tmp/liveroom-coturn/secret")
COTURN_URL = "turn:127.0.0.1:34780?transport=udp"


def test_the_credential_is_coturns_rest_credential():
    username, credential = turn_credential("north wind", 42, ttl=3600, now=1_900_000_000.5)
    assert username == "1900003600:42"
    # coturn: base64(HMAC-SHA1(static-auth-secret, username)), here from OpenSSL.
    digest = subprocess.run(
        ["openssl", "dgst", "-sha1", "-hmac", "north wind", "-binary"],
        input=username.encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert credential == base64.b64encode(digest).decode()


def turn_config(monkeypatch, tmp_path, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_config(tmp_path)


def test_turn_settings_mint_credentials_and_never_show_the_secret(monkeypatch, tmp_path):
    config = turn_config(
        monkeypatch,
        tmp_path,
        LIVEROOM_STUN_URLS="stun:stun.school.example:3478",
        LIVEROOM_TURN_URLS="turn:turn.school.example:3478?transport=udp, turns:turn.school.example:443",
        LIVEROOM_TURN_SECRET="coturn-static-secret",
        LIVEROOM_TURN_TTL="600",
    )
    ice = ice_configuration(config, 7, now=1_000_000)
    assert ice["iceTransportPolicy"] == "all"
    stun, turn = ice["iceServers"]
    assert stun == {"urls": ["stun:stun.school.example:3478"]}
    assert turn["urls"] == [
        "turn:turn.school.example:3478?transport=udp",
        "turns:turn.school.example:443",
    ]
    assert turn["username"] == "1000600:7"
    assert "coturn-static-secret" not in json.dumps(ice)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LIVEROOM_TURN_URLS": "turn:turn.example:3478"}, "LIVEROOM_TURN_SECRET must be set"),
        ({"LIVEROOM_TURN_URLS": "https://turn.example", "LIVEROOM_TURN_SECRET": "s"}, "turn:"),
        ({"LIVEROOM_STUN_URLS": "turn:turn.example:3478"}, "LIVEROOM_STUN_URLS must list"),
        (
            {
                "LIVEROOM_TURN_URLS": "turn:t:3478",
                "LIVEROOM_TURN_SECRET": "s",
                "LIVEROOM_TURN_TTL": "5",
            },
            "60 to 86400 seconds",
        ),
        ({"LIVEROOM_ICE_TRANSPORT_POLICY": "relay"}, "needs LIVEROOM_TURN_URLS"),
        ({"LIVEROOM_ICE_TRANSPORT_POLICY": "sometimes"}, "must be all or relay"),
    ],
)
def test_bad_turn_settings_stop_the_start_with_one_line(monkeypatch, tmp_path, env, message):
    with pytest.raises(RuntimeError, match=message) as raised:
        turn_config(monkeypatch, tmp_path, **env)
    assert "\n" not in str(raised.value)


TURN_SETTINGS = {
    "LIVEROOM_TURN_URLS": ["turn:turn.school.example:3478"],
    "LIVEROOM_TURN_SECRET": "coturn-static-secret",
}


@pytest.fixture
def turn_app(tmp_path):
    return make_app(tmp_path, **TURN_SETTINGS)


def test_present_people_get_a_fresh_credential_of_their_own(turn_app):
    meeting = Meeting(turn_app, World(turn_app))
    page = meeting.page("sam").get_data(as_text=True)
    config = json.loads(html.unescape(re.search(r"data-media='([^']+)'", page).group(1)))
    sam_id = config["me"]
    (turn,) = config["ice"]["iceServers"]
    expiry, person = turn["username"].split(":")
    assert person == str(sam_id) and abs(int(expiry) - (time.time() + 3600)) < 60
    assert "coturn-static-secret" not in page

    asked = meeting.people["sam"].get(
        f"/rooms/{meeting.id}/media/ice", query_string={"session": meeting.session}
    )
    assert asked.status_code == 200
    assert asked.headers["Cache-Control"] == "no-store"
    (fresh,) = asked.get_json()["iceServers"]
    assert fresh["username"].endswith(f":{sam_id}")
    assert (
        fresh["credential"]
        == turn_credential(
            "coturn-static-secret", sam_id, 3600, int(fresh["username"].split(":")[0]) - 3600
        )[1]
    )


def test_no_credential_for_anyone_not_in_the_meeting(turn_app):
    meeting = Meeting(turn_app, World(turn_app))
    meeting.post("priya", "leave")
    path = f"/rooms/{meeting.id}/media/ice"
    assert meeting.people["late"].get(path).status_code == 403, "a member who never joined"
    assert meeting.people["priya"].get(path).status_code == 403, "someone who left"
    assert turn_app.test_client().get(path).status_code in (302, 401), "signed out"
