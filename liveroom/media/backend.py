"""One media interface, whatever carries the audio and video.

The room's pages, its controls and its rules do not care which backend serves a
meeting. A backend opens a media room for a live session, authorises a person (the
answer is what their page's script needs: which client backend to load, its ICE
servers, its limits), withdraws a person (removed, left, or no longer allowed to
publish) and closes the room at the meeting's end. On the page the matching
contract is ``window.LiveroomMedia.backends[name]`` (static/js/media/): setWanted,
setSending, setTrack, receive, restart, stats, close.

The peer-to-peer mesh is the first backend: browsers connect to each other, the
server only relays their signals (liveroom/media/signals.py), and every decision
lives in the database, so opening, withdrawing and closing need nothing more than
the roster the pages already receive. The media server of the next issue plugs in
behind the same four calls.
"""

from __future__ import annotations

import logging
from typing import Protocol

from flask import current_app

from liveroom.extensions import db
from liveroom.media.ice import ice_configuration
from liveroom.media.janus import JanusError, JanusUnavailable
from liveroom.media.rules import MESH_PEOPLE, MESH_PUBLISHERS
from liveroom.media.sfu import JANUS_PEOPLE, JANUS_PUBLISHERS, sfu_of
from liveroom.models import LiveSession, MediaRoom, Participation

log = logging.getLogger(__name__)

# What a mesh sender sends each receiver at most (bits per second, frames per second):
# one copy per receiver, so modest, and a screen's text stays sharp at a low rate.
MESH_BITRATES = {
    "camera": {"bitrate": 350_000, "framerate": 24},
    "screen": {"bitrate": 900_000, "framerate": 10},
}


class MediaBackend(Protocol):
    name: str
    # People present up to which it carries media, and publishers at once.
    people_limit: int
    publisher_limit: int

    def open_room(self, session: LiveSession) -> None: ...

    def authorise(self, session: LiveSession, person: Participation) -> dict: ...

    def withdraw(self, session: LiveSession, person: Participation) -> None: ...

    def close(self, session: LiveSession) -> None: ...


class Mesh:
    """Peer-to-peer: nothing to open or close on a server."""

    name = "mesh"
    people_limit = MESH_PEOPLE
    publisher_limit = MESH_PUBLISHERS

    def open_room(self, session: LiveSession) -> None:
        """Nothing to prepare: a mesh exists between the browsers present."""

    def authorise(self, session: LiveSession, person: Participation) -> dict:
        return {
            "backend": self.name,
            # With a TURN credential minted for this person; the page asks for a new
            # one before every ICE restart (media.routes.ice).
            "ice": ice_configuration(current_app.config, person.user_id),
            "bitrates": MESH_BITRATES,
        }

    def withdraw(self, session: LiveSession, person: Participation) -> None:
        """Their stay is no longer present, so the roster leaves them out and every
        page closes its connection to them; their signals are refused from now on."""

    def close(self, session: LiveSession) -> None:
        """The meeting's end refreshes every page, which stops its media."""


class Janus:
    """The Janus media server (liveroom/media/sfu.py): a VideoRoom per meeting, made
    when it starts (``open_media_room``), and a pass per admitted stay."""

    name = "janus"
    people_limit = JANUS_PEOPLE
    publisher_limit = JANUS_PUBLISHERS

    def open_room(self, session: LiveSession) -> None:
        sfu = sfu_of()
        if sfu is not None:
            sfu.open_room(session)

    def authorise(self, session: LiveSession, person: Participation) -> dict:
        """The page's Janus address, the meeting's room and this stay's token; the
        mesh's configuration when Janus does not answer now (the page then says
        audio and video are unavailable, past the mesh's size)."""
        sfu = sfu_of()
        admitted = sfu.admit(session, person) if sfu is not None else None
        if admitted is None:
            return MESH.authorise(session, person) | {"janus_down": True}
        room, entry = admitted
        return {
            "backend": self.name,
            "janus": {"server": room.server, "room": room.room, "token": entry.token},
            "ice": ice_configuration(current_app.config, person.user_id),
            "bitrates": MESH_BITRATES,
        }

    def withdraw(self, session: LiveSession, person: Participation) -> None:
        sfu = sfu_of()
        if sfu is not None:
            sfu.withdraw(person)

    def close(self, session: LiveSession) -> None:
        sfu = sfu_of()
        if sfu is not None:
            sfu.close(session.id)


def on_media_server(session_id: int) -> bool:
    """Whether the meeting has a room on a media server (made when it started, gone
    if the server stopped answering and the meeting moved to the mesh). Asked of the
    database each time: every worker must see a move at once."""
    return db.session.get(MediaRoom, session_id) is not None


def backend_for(session: LiveSession) -> MediaBackend:
    """The backend serving ``session``: Janus when the meeting got a room there as it
    started, the mesh otherwise (none configured, or none answered then)."""
    if sfu_of() is not None and on_media_server(session.id):
        return JANUS
    return MESH


def open_media_room(session: LiveSession) -> None:
    """Start Meeting: with Janus configured, the meeting's room there (on the server
    with the fewest rooms that answers); when none answers, the meeting keeps to the
    mesh. The caller commits."""
    if sfu_of() is not None:
        JANUS.open_room(session)


MESH = Mesh()
JANUS = Janus()


def withdraw_media(session: LiveSession, person: Participation) -> None:
    """After a stay ended or was removed (committed): its media pass goes, and on
    the media server the person is put out of the room now. Janus not answering
    leaves the pass to the sweep (``sfu.Sfu.sweep``), which withdraws it later."""
    try:
        backend_for(session).withdraw(session, person)
        db.session.commit()
    except JanusUnavailable as error:
        db.session.rollback()
        log.warning("media pass of stay %s left to the sweep: %s", person.id, error)


def close_media(session: LiveSession) -> None:
    """After a meeting ended (committed): its room on the media server goes, with
    every pass to it; left to the sweep when Janus does not answer."""
    try:
        backend_for(session).close(session)
        db.session.commit()
    except JanusUnavailable as error:
        db.session.rollback()
        log.warning("media room of meeting %s left to the sweep: %s", session.id, error)


def sweep_media() -> None:
    """The sweep's share: passes of stays that ended, rooms of meetings that ended,
    and small meetings on a server that stopped answering moved to the mesh."""
    sfu = sfu_of()
    if sfu is not None:
        sfu.sweep()
        sfu.fall_back()


def hold_strong_mutes(session: LiveSession) -> None:
    """After a strong mute (committed): on the media server, the strong-muted send no
    sound even from a page that keeps publishing. Janus not answering leaves it to
    the sweep."""
    sfu = sfu_of()
    if sfu is None or not on_media_server(session.id):
        return
    try:
        sfu.hold_mutes(session.id)
    except JanusError as error:
        log.warning("strong mute of meeting %s left to the sweep: %s", session.id, error)


def lift_strong_mutes(session: LiveSession, user_ids: set[int] | None = None) -> None:
    """After a strong mute ended (committed), for ``user_ids`` or everyone."""
    sfu = sfu_of()
    if sfu is None or not on_media_server(session.id):
        return
    try:
        sfu.lift_mutes(session.id, user_ids)
    except JanusError as error:
        log.warning("strong mute of meeting %s not lifted on Janus: %s", session.id, error)
