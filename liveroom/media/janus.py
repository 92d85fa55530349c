"""Talking to a Janus media server: its Janus API, its Admin API, its VideoRoom plugin.

Janus (Debian's ``janus``, 1.1) runs with token authentication on: every Janus API
request carries a token that its Admin API added (``add_token``, limited to the
VideoRoom plugin). The app adds one for itself; each person admitted to a meeting
gets their own, which is also the only entry on that meeting's VideoRoom ``allowed``
list besides the others admitted. Removing a person's token (``remove_token``) ends
their access to Janus at once; taking it off the list shuts them out of the room.

A Janus session (and a VideoRoom handle in it) is kept per client and reused while
it lives (Janus forgets an unused one after its ``session_timeout``, 60 s by
default); a request that finds it gone makes a new one and is sent again.

Every call answers within ``timeout`` seconds or raises ``JanusUnavailable``; an
error Janus or the plugin reports raises ``JanusError`` with its code. HTTP goes
through the standard library (under gevent, its sockets are cooperative).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

VIDEOROOM = "janus.plugin.videoroom"
# Janus's own codes: a session it does not know (timed out, or the server restarted),
# and a token it does not know.
NO_SUCH_SESSION = 458
TOKEN_NOT_FOUND = 490
# Reuse a Janus session while it was used this recently (Janus's timeout is 60 s).
SESSION_REUSE_SECONDS = 30.0


class JanusError(Exception):
    """Janus, or its VideoRoom plugin, refused a request."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


class JanusUnavailable(JanusError):
    """Janus did not answer (refused, timed out, or answered something that is not
    Janus's JSON)."""

    def __init__(self, reason: str) -> None:
        super().__init__(0, reason)


@dataclass(frozen=True)
class JanusServer:
    """One Janus server: the address browsers use for its Janus API, the address the
    app uses for it (the same, or one on a private network), its Admin API, and the
    Admin API's secret (also the VideoRoom plugin's ``admin_key``)."""

    url: str
    api_url: str
    admin_url: str
    admin_secret: str


def new_token() -> str:
    """A Janus token: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


class JanusClient:
    """The app's calls to one Janus server, with the app's own token."""

    def __init__(self, server: JanusServer, app_token: str, timeout: float = 3.0) -> None:
        self.server = server
        self.app_token = app_token
        self.timeout = timeout
        self._lock = threading.Lock()
        self._session: tuple[int, int] | None = None  # (session id, VideoRoom handle id)
        self._used_at = 0.0

    # --- transport -------------------------------------------------------------------

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {"transaction": secrets.token_hex(8), **body}
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except (OSError, ValueError) as error:  # refused, timed out, not JSON
            raise JanusUnavailable(f"{url}: {error}") from error
        if not isinstance(answer, dict):
            raise JanusUnavailable(f"{url}: not a Janus answer")
        if answer.get("janus") == "error":
            error = answer.get("error") or {}
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "")))
        return answer

    def _get(self, url: str) -> dict[str, Any]:
        """A session's next event (Janus's long poll, answered at once when one waits)."""
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except (OSError, ValueError) as error:
            raise JanusUnavailable(f"{url}: {error}") from error
        if not isinstance(answer, dict):
            raise JanusUnavailable(f"{url}: not a Janus answer")
        return answer

    def admin(self, request: str, **fields: Any) -> dict[str, Any]:
        """One Admin API request (``add_token``, ``remove_token``, ``list_tokens``…)."""
        return self._post(
            self.server.admin_url,
            {"janus": request, "admin_secret": self.server.admin_secret, **fields},
        )

    def info(self) -> dict[str, Any]:
        """The server's description (answers without a token): is it there at all."""
        return self._post(self.server.api_url, {"janus": "info"})

    # --- tokens ----------------------------------------------------------------------

    def add_token(self, token: str) -> None:
        """Let ``token`` use the VideoRoom plugin (and nothing else) from now on."""
        self.admin("add_token", token=token, plugins=[VIDEOROOM])

    def remove_token(self, token: str) -> None:
        """``token`` opens no Janus session from now on (gone already: fine)."""
        try:
            self.admin("remove_token", token=token)
        except JanusError as error:
            if error.code != TOKEN_NOT_FOUND:
                raise

    def tokens(self) -> list[str]:
        stored = self.admin("list_tokens")["data"]["tokens"]
        return [entry["token"] for entry in stored]

    def start(self) -> None:
        """Add the app's own token (again: Janus keeps tokens in memory, so a restarted
        Janus has forgotten it)."""
        self.add_token(self.app_token)

    # --- the VideoRoom plugin ----------------------------------------------------------

    def _open_handle(self) -> tuple[int, int]:
        created = self._post(self.server.api_url, {"janus": "create", "token": self.app_token})
        session_id = int(created["data"]["id"])
        attached = self._post(
            f"{self.server.api_url}/{session_id}",
            {"janus": "attach", "plugin": VIDEOROOM, "token": self.app_token},
        )
        return session_id, int(attached["data"]["id"])

    def _handle(self, fresh: bool) -> tuple[int, int]:
        with self._lock:
            now = time.monotonic()
            if fresh or self._session is None or now - self._used_at > SESSION_REUSE_SECONDS:
                self._session = None
                self._session = self._open_handle()
            self._used_at = now
            return self._session

    def videoroom(self, request: str, **fields: Any) -> dict[str, Any]:
        """One synchronous VideoRoom request; the plugin's answer (``plugindata.data``).
        The plugin's own errors (``error_code``) raise ``JanusError``."""
        body = {"request": request, **fields}
        for fresh in (False, True):
            try:
                session_id, handle_id = self._handle(fresh)
                answer = self._post(
                    f"{self.server.api_url}/{session_id}/{handle_id}",
                    {"janus": "message", "body": body, "token": self.app_token},
                )
            except JanusError as error:
                if error.code == NO_SUCH_SESSION and not fresh:
                    continue  # Janus forgot the session: open a new one, once
                if error.code == 403 and not fresh:
                    self.start()  # a restarted Janus forgot the app's token
                    continue
                raise
            break
        data = answer.get("plugindata", {}).get("data", {})
        if "error_code" in data:
            raise JanusError(int(data["error_code"]), str(data.get("error", "")))
        return data

    def create_room(
        self, room: int, secret: str, publishers: int, bitrate: int, allowed: list[str]
    ) -> None:
        """A VideoRoom for one meeting: private (not listed), edited only with
        ``secret``, at most ``publishers`` sending, each capped at ``bitrate`` bits a
        second, and only the tokens on ``allowed`` may join."""
        self.videoroom(
            "create",
            room=room,
            admin_key=self.server.admin_secret,
            secret=secret,
            permanent=False,
            is_private=True,
            publishers=publishers,
            bitrate=bitrate,
            bitrate_cap=True,
            audiocodec="opus",
            videocodec="vp8",
            notify_joining=True,
            # The app's own token too: it looks at who publishes what (``publishers``).
            allowed=[*allowed, self.app_token],
        )

    def destroy_room(self, room: int, secret: str) -> None:
        """The VideoRoom goes, and everyone in it with it (gone already: fine)."""
        try:
            self.videoroom("destroy", room=room, secret=secret, permanent=False)
        except JanusError as error:
            if error.code != NO_SUCH_ROOM:
                raise

    def allow(self, room: int, secret: str, tokens: list[str], allowed: bool = True) -> None:
        """Put ``tokens`` on the room's ``allowed`` list, or take them off it."""
        self.videoroom(
            "allowed",
            room=room,
            secret=secret,
            action="add" if allowed else "remove",
            allowed=tokens,
        )

    def kick(self, room: int, secret: str, publisher: int) -> None:
        """Put a participant out of the room now (not there: fine)."""
        try:
            self.videoroom("kick", room=room, secret=secret, id=publisher)
        except JanusError as error:
            if error.code not in (NO_SUCH_FEED, NO_SUCH_ROOM):
                raise

    def publishers(self, room: int) -> list[dict[str, Any]]:
        """Who publishes in the room, with their streams (``mid``, ``type``,
        ``description``, ``moderated``…): what a participant sees as they join. The app
        joins for a moment with its own token (on every room's list), reads the list
        from the "joined" event, and leaves."""
        session_id, handle_id = self._open_handle()
        try:
            body = {"request": "join", "ptype": "publisher", "room": room, "token": self.app_token}
            self._post(
                f"{self.server.api_url}/{session_id}/{handle_id}",
                {"janus": "message", "body": body, "token": self.app_token},
            )
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                event = self._get(
                    f"{self.server.api_url}/{session_id}?maxev=1&token={self.app_token}"
                )
                data = event.get("plugindata", {}).get("data", {})
                if "error_code" in data:
                    raise JanusError(int(data["error_code"]), str(data.get("error", "")))
                if data.get("videoroom") == "joined":
                    return list(data.get("publishers", []))
            raise JanusUnavailable(f"{self.server.api_url}: no answer to joining room {room}")
        finally:
            with contextlib.suppress(JanusError):
                self._post(
                    f"{self.server.api_url}/{session_id}",
                    {"janus": "destroy", "token": self.app_token},
                )

    def moderate(self, room: int, secret: str, publisher: int, mid: str, mute: bool) -> None:
        """Stop (or let through again) one stream of a publisher, at the server: what a
        strong mute holds against a page that keeps sending."""
        self.videoroom("moderate", room=room, secret=secret, id=publisher, mid=mid, mute=mute)

    def participants(self, room: int) -> list[dict[str, Any]]:
        """Who is in the room (``id``, ``display``, ``publisher``…)."""
        return self.videoroom("listparticipants", room=room)["participants"]

    def rooms(self) -> list[dict[str, Any]]:
        """Every room on this server, private ones included (the admin key shows them)."""
        return self.videoroom("list", admin_key=self.server.admin_secret)["list"]

    def exists(self, room: int) -> bool:
        return bool(self.videoroom("exists", room=room).get("exists"))


# The VideoRoom plugin's codes for a room or a participant it does not know.
NO_SUCH_ROOM = 426
NO_SUCH_FEED = 428
