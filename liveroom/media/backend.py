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

from typing import Protocol

from flask import current_app

from liveroom.media.ice import ice_configuration
from liveroom.models import LiveSession, Participation

# What a mesh sender sends each receiver at most (bits per second, frames per second):
# one copy per receiver, so modest, and a screen's text stays sharp at a low rate.
MESH_BITRATES = {
    "camera": {"bitrate": 350_000, "framerate": 24},
    "screen": {"bitrate": 900_000, "framerate": 10},
}


class MediaBackend(Protocol):
    name: str

    def open_room(self, session: LiveSession) -> None: ...

    def authorise(self, session: LiveSession, person: Participation) -> dict: ...

    def withdraw(self, session: LiveSession, person: Participation) -> None: ...

    def close(self, session: LiveSession) -> None: ...


class Mesh:
    """Peer-to-peer: nothing to open or close on a server."""

    name = "mesh"

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


def backend_for(session: LiveSession) -> MediaBackend:
    """The backend serving ``session``: the mesh (the only one so far)."""
    return MESH


MESH = Mesh()
