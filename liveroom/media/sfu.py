"""Meetings on Janus media servers: a VideoRoom per live session, a pass per stay.

A meeting's room is made on the server with the fewest rooms among those that
answer, and stays there (``media_room``). It is private (not listed), has a secret
only the app knows, a publisher limit that fits a class and a bitrate cap per
publisher. Each admitted stay gets a pass (``media_pass``): a Janus token limited to
the VideoRoom plugin, added by the Admin API and put on that room's ``allowed`` list,
and nowhere else. Withdrawing a pass (the person left, was removed, or the meeting
ended) removes the token from Janus, takes it off the list and puts the person out
of the room at once; closing a meeting's room removes every pass and destroys the
room. ``sweep`` does the same for what a crash or an unreachable Janus left behind.

Janus keeps rooms and tokens in memory only, so a restarted Janus has forgotten
them all; the app's own token (one for every worker, derived from the Admin API's
secret) is added again when a call finds it gone.

``media.backend`` chooses it per meeting: with Janus configured, a meeting gets its
room as it starts, and keeps to the mesh if no server answered then.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError

from liveroom import events
from liveroom.events import Kind
from liveroom.extensions import commit_keeping_loaded, db
from liveroom.media.janus import (
    NO_SUCH_ROOM,
    JanusClient,
    JanusError,
    JanusServer,
    JanusUnavailable,
    new_token,
)
from liveroom.media.rules import MESH_PEOPLE
from liveroom.models import LiveSession, MediaPass, MediaRoom, Participation
from liveroom.rooms.presence import LARGE_ROOM

log = logging.getLogger(__name__)

# A class: every pupil may publish on the stage's "everyone" mode.
JANUS_PUBLISHERS = 30
# People present up to which a meeting on Janus carries media: as many as the media
# roster lists (rooms.presence.LARGE_ROOM: it lists everyone up to there).
JANUS_PEOPLE = LARGE_ROOM
# Sweeps in a row a server must miss before its small meetings move to the mesh.
STRIKES_BEFORE_FALLING_BACK = 2
# Each publisher's cap, bits a second (the grid takes simulcast's lower layers).
JANUS_BITRATE = 512_000


def app_token(server: JanusServer) -> str:
    """The app's own Janus token for ``server``: the same in every worker and host (so
    they add one token, not one each), and unguessable without the Admin API's
    secret."""
    key = server.admin_secret.encode()
    return hmac.new(key, f"liveroom-app:{server.api_url}".encode(), hashlib.sha256).hexdigest()


class Sfu:
    """The configured Janus servers (``LIVEROOM_JANUS_URLS``), one client each."""

    def __init__(self, servers: list[JanusServer], timeout: float) -> None:
        self.clients = {
            server.url: JanusClient(server, app_token(server), timeout) for server in servers
        }
        self.strikes: dict[str, int] = {}  # server -> sweeps in a row it did not answer

    def client(self, url: str) -> JanusClient | None:
        return self.clients.get(url)

    def pick(self) -> JanusClient | None:
        """The server with the fewest rooms among those that answer; None if none does."""
        loads = []
        for order, client in enumerate(self.clients.values()):
            try:
                loads.append((len(client.rooms()), order, client))
            except JanusUnavailable as error:
                log.warning("media server not answering: %s", error)
        return min(loads)[2] if loads else None

    # --- a meeting's room ------------------------------------------------------------

    def open_room(self, session: LiveSession) -> MediaRoom | None:
        """The meeting's room, made now if it has none; None when no server answers.
        Two requests making it at once: one room is kept, the other destroyed."""
        existing = db.session.get(MediaRoom, session.id)
        if existing is not None:
            return existing
        client = self.pick()
        if client is None:
            return None
        number = secrets.randbelow(2**52) + 1
        secret = secrets.token_urlsafe(24)
        try:
            client.create_room(number, secret, JANUS_PUBLISHERS, JANUS_BITRATE, allowed=[])
        except JanusUnavailable:
            return None
        row = MediaRoom(session_id=session.id, server=client.server.url, room=number, secret=secret)
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except IntegrityError:
            client.destroy_room(number, secret)
            return db.session.get(MediaRoom, session.id)
        return row

    def _room(self, session_id: int) -> tuple[MediaRoom | None, JanusClient | None]:
        """The meeting's room, and the client of the server holding it (None when the
        meeting has none, or its server was taken out of the configuration)."""
        room = db.session.get(MediaRoom, session_id)
        return room, self.client(room.server) if room is not None else None

    def close(self, session_id: int) -> None:
        """The meeting ended: every pass withdrawn, its room destroyed, the rows gone
        (the caller commits). Raises JanusUnavailable, keeping the rows for ``sweep``.
        The rows go by statement: two requests closing at once both succeed."""
        room, client = self._room(session_id)
        if room is None:
            return
        if client is not None:
            tokens = db.session.scalars(
                sa.select(MediaPass.token).where(MediaPass.session_id == session_id)
            )
            for token in tokens:
                client.remove_token(token)
            client.destroy_room(room.room, room.secret)
        db.session.execute(sa.delete(MediaPass).where(MediaPass.session_id == session_id))
        db.session.execute(sa.delete(MediaRoom).where(MediaRoom.session_id == session_id))

    # --- a person's pass -------------------------------------------------------------

    def admit(
        self, session: LiveSession, person: Participation
    ) -> tuple[MediaRoom, MediaPass] | None:
        """The stay's pass to the meeting's room (made now if it has none: a Janus
        token on the room's list), with the room; None when Janus does not answer.

        A new pass is committed at once, with whatever the request has pending (a
        Start or a Join about to commit anyway): its token is on Janus's list already,
        and a request that then ended without committing (a page's panel, rendered
        after its action's commit) lost the row, leaving a token nothing withdraws."""
        room = self.open_room(session)
        if room is None:
            return None
        existing = db.session.get(MediaPass, person.id)
        if existing is not None:
            return room, existing
        client = self.client(room.server)
        if client is None:  # the server was taken out of the configuration
            return None
        token = new_token()
        try:
            client.add_token(token)
            client.allow(room.room, room.secret, [token])
        except JanusUnavailable:
            return None
        entry = MediaPass(participation_id=person.id, session_id=session.id, token=token)
        try:
            with db.session.begin_nested():
                db.session.add(entry)
        except IntegrityError:  # another tab of theirs made one at the same moment
            client.remove_token(token)
            return room, db.session.get(MediaPass, person.id)
        commit_keeping_loaded()  # the request's answer is drawn next
        return room, entry

    def withdraw(self, person: Participation) -> None:
        """The stay left, was removed or may no longer take part: its token goes from
        Janus, off the room's list, and the person is put out of the room now (the
        caller commits). Raises JanusUnavailable, keeping the pass for ``sweep``. Each
        step is one Janus already did, or the row already gone, at worst: two requests
        withdrawing at once (a double click on Remove) both succeed."""
        entry = db.session.get(MediaPass, person.id)
        if entry is None:
            return
        room, client = self._room(entry.session_id)
        if client is not None:
            client.remove_token(entry.token)
            try:
                client.allow(room.room, room.secret, [entry.token], allowed=False)
            except JanusError as error:
                if isinstance(error, JanusUnavailable) or error.code != NO_SUCH_ROOM:
                    raise  # a room destroyed meanwhile (the meeting ended) lists nobody
            client.kick(room.room, room.secret, person.user_id)
        db.session.execute(sa.delete(MediaPass).where(MediaPass.participation_id == person.id))

    # --- strong mutes ----------------------------------------------------------------

    def hold_mutes(self, session_id: int) -> int:
        """Whoever is strong-muted in the meeting sends no sound through Janus, even
        from a page that keeps publishing: each of their audio streams is stopped at
        the server (``moderate``). Asked after a strong mute and at every sweep, so a
        stream published afterwards is stopped too. Returns how many were stopped."""
        room, client = self._room(session_id)
        if client is None:
            return 0
        muted = set(
            db.session.scalars(
                sa.select(Participation.user_id).where(
                    Participation.session_id == session_id,
                    Participation.left_at.is_(None),
                    Participation.strong_muted.is_(True),
                )
            )
        )
        if not muted:
            return 0
        stopped = 0
        for publisher in client.publishers(room.room):
            if publisher.get("id") not in muted:
                continue
            for stream in publisher.get("streams", []):
                if stream.get("type") == "audio" and not stream.get("moderated"):
                    client.moderate(room.room, room.secret, publisher["id"], stream["mid"], True)
                    stopped += 1
        return stopped

    def lift_mutes(self, session_id: int, user_ids: set[int] | None = None) -> None:
        """The strong mute ended (for ``user_ids``, or everyone): their audio streams
        go through Janus again."""
        room, client = self._room(session_id)
        if client is None:
            return
        for publisher in client.publishers(room.room):
            if user_ids is not None and publisher.get("id") not in user_ids:
                continue
            for stream in publisher.get("streams", []):
                if stream.get("type") == "audio" and stream.get("moderated"):
                    client.moderate(room.room, room.secret, publisher["id"], stream["mid"], False)

    # --- upkeep ------------------------------------------------------------------------

    def fall_back(self) -> int:
        """Meetings whose server stopped answering (at two sweeps in a row) move to the
        mesh when they are small enough for it: their room's rows go, and every page
        in them is told to read its panel again, which then connects peer to peer.
        Larger ones stay (their pages say audio and video are unavailable) in case
        the server comes back. Returns how many meetings moved."""
        live = db.session.scalars(
            sa.select(MediaRoom)
            .join(LiveSession, LiveSession.id == MediaRoom.session_id)
            .where(LiveSession.ended_at.is_(None))
        ).all()
        moved = 0
        for url in {room.server for room in live}:
            client = self.client(url)
            if client is not None and _answers(client):
                self.strikes.pop(url, None)
                continue
            self.strikes[url] = self.strikes.get(url, 0) + 1
            if self.strikes[url] < STRIKES_BEFORE_FALLING_BACK:
                continue
            for room in (room for room in live if room.server == url):
                present = db.session.scalar(
                    sa.select(sa.func.count()).where(
                        Participation.session_id == room.session_id,
                        Participation.left_at.is_(None),
                    )
                )
                if present > MESH_PEOPLE:
                    continue
                session = db.session.get(LiveSession, room.session_id)
                db.session.execute(
                    sa.delete(MediaPass).where(MediaPass.session_id == room.session_id)
                )
                db.session.delete(room)
                events.append(
                    session.room_id, Kind.MEDIA_CHANGED, session.id, action="moved_to_mesh"
                )
                db.session.commit()
                log.warning("meeting %s moved to the mesh: %s does not answer", session.id, url)
                moved += 1
        return moved

    def sweep(self) -> int:
        """Withdraw the passes of stays that ended and close the rooms of meetings that
        ended (what a crash or an unreachable Janus left behind), committing each: two
        queries find them, and only what is left over costs more. Returns how many
        passes and rooms went."""
        done = 0
        stale_passes = db.session.scalars(
            sa.select(Participation)
            .join(MediaPass, MediaPass.participation_id == Participation.id)
            .join(LiveSession, LiveSession.id == Participation.session_id)
            .where(sa.or_(Participation.left_at.is_not(None), LiveSession.ended_at.is_not(None)))
        ).all()
        for person in stale_passes:
            try:
                self.withdraw(person)
                db.session.commit()
                done += 1
            except JanusUnavailable as error:
                db.session.rollback()
                log.warning("pass of stay %s kept for the next sweep: %s", person.id, error)
        strong = db.session.scalars(
            sa.select(MediaRoom.session_id)
            .join(LiveSession, LiveSession.id == MediaRoom.session_id)
            .where(LiveSession.ended_at.is_(None), LiveSession.strong_mute.is_(True))
        ).all()
        for session_id in strong:
            try:
                done += self.hold_mutes(session_id)
            except JanusError as error:
                log.warning("strong mute of meeting %s not held this time: %s", session_id, error)
        ended = db.session.scalars(
            sa.select(MediaRoom.session_id)
            .join(LiveSession, LiveSession.id == MediaRoom.session_id)
            .where(LiveSession.ended_at.is_not(None))
        ).all()
        for session_id in ended:
            try:
                self.close(session_id)
                db.session.commit()
                done += 1
            except JanusUnavailable as error:
                db.session.rollback()
                log.warning(
                    "media room of meeting %s kept for the next sweep: %s", session_id, error
                )
        return done


def _answers(client: JanusClient) -> bool:
    try:
        client.info()
    except JanusUnavailable:
        return False
    return True


def sfu_of(app: Flask | None = None) -> Sfu | None:
    """The app's Janus servers, None when none is configured."""
    app = app or current_app._get_current_object()
    servers = app.config.get("LIVEROOM_JANUS_SERVERS") or []
    if not servers:
        return None
    sfu = app.extensions.get("liveroom_sfu")
    if sfu is None:
        sfu = app.extensions["liveroom_sfu"] = Sfu(servers, app.config["LIVEROOM_JANUS_TIMEOUT"])
    return sfu
