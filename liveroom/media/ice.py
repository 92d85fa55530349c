"""ICE servers for a person's page: STUN, and TURN with credentials minted for them.

A school's firewall often blocks UDP between pupils, so media needs a relay: TURN
(coturn, Debian's ``coturn``). The app never hands out coturn's shared secret. It
mints a credential per person with coturn's REST scheme (``use-auth-secret`` and
``static-auth-secret`` in turnserver.conf): the username is ``expiry:person``, where
``expiry`` is a Unix time, and the credential is ``base64(HMAC-SHA1(secret,
username))``. coturn recomputes the credential from its copy of the secret and
refuses the username once ``expiry`` has passed. So a credential copied from a page
works for that long and no longer, and it names only a user id, which coturn logs.

Credentials go out with the room panel, and again from ``GET
/rooms/<id>/media/ice`` before every ICE restart (static/js/media/mesh.js): a
connection failing after its credential ran out gets a new one.

Configuration (``config.py``): ``LIVEROOM_STUN_URLS``, ``LIVEROOM_TURN_URLS``,
``LIVEROOM_TURN_SECRET``, ``LIVEROOM_TURN_TTL`` (seconds, 1 hour by default),
``LIVEROOM_ICE_TRANSPORT_POLICY`` ("relay" sends all media through TURN), and
``LIVEROOM_ICE_SERVERS`` for fixed servers written out in full.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping


def turn_credential(secret: str, person: int | str, ttl: int, now: float) -> tuple[str, str]:
    """(username, credential) for ``person``, valid for ``ttl`` seconds from ``now``,
    in coturn's REST scheme."""
    username = f"{int(now) + ttl}:{person}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_configuration(
    config: Mapping[str, object], person: int, now: float | None = None
) -> dict[str, object]:
    """What a page's RTCPeerConnection is configured with, for ``person`` now: the
    fixed servers, the STUN servers, and the TURN servers with a fresh credential;
    and the transport policy ("all", or "relay" to send everything through TURN)."""
    servers: list[dict[str, object]] = [dict(server) for server in config["LIVEROOM_ICE_SERVERS"]]
    stun = config["LIVEROOM_STUN_URLS"]
    if stun:
        servers.append({"urls": list(stun)})
    turn = config["LIVEROOM_TURN_URLS"]
    if turn:
        username, credential = turn_credential(
            str(config["LIVEROOM_TURN_SECRET"]),
            person,
            int(config["LIVEROOM_TURN_TTL"]),
            time.time() if now is None else now,
        )
        servers.append({"urls": list(turn), "username": username, "credential": credential})
    return {
        "iceServers": servers,
        "iceTransportPolicy": config["LIVEROOM_ICE_TRANSPORT_POLICY"],
    }
