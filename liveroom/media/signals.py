"""Signalling for the mesh: offers, answers and ICE candidates between two people.

A browser POSTs a signal for one other person present in the same meeting (or a
"hello" when its stream opens, asking the people who start its connections to offer
now: one sent before the stream was open was lost); it is
stored as a ``signal`` event and the hub delivers it over that person's room stream
only (``liveroom/live/hub.py``), across workers and hosts as chat is. It is never
replayed to a stream that reconnects: the pages restart ICE and negotiate afresh
instead. The upkeep deletes signals a few minutes old (``forget_old``): they hold
network addresses, and nobody needs them after delivery.

The server reads what an offer or answer is about to send. Each connection carries
three media sections in a fixed order (microphone, camera, screen:
static/js/media/mesh.js); a section whose direction sends (``sendrecv`` or
``sendonly``) from someone the rules do not let publish that kind is refused, with
the reason. So a strong-muted pupil's browser cannot even negotiate sending audio.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from liveroom import events
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.media.rules import Decision, MediaState, Room, may_publish
from liveroom.media.rules import Kind as MediaKind
from liveroom.models import Event, Participation, utcnow
from liveroom.rooms.policy import Rank

ORDER = (MediaKind.MIC, MediaKind.CAMERA, MediaKind.SCREEN)
LONGEST_SDP = 32_000
LONGEST_CANDIDATE = 1_000
CONNECTION_ID = re.compile(r"^[0-9a-f]{8,32}$")
KEEP = timedelta(minutes=5)
# A page renegotiates a few connections at a time, each a few messages: far below this.
PER_MINUTE = 600


class BadSignal(ValueError):
    """A signal that is not one (400), with the reason."""


@dataclass(frozen=True)
class Signal:
    to: int
    connection: str
    description: dict | None
    candidate: dict | None
    # "My stream is open: offer me now" (an offer sent before it opened was lost).
    hello: bool = False

    @property
    def data(self) -> dict:
        data = {"to": self.to, "connection": self.connection}
        if self.hello:
            data["hello"] = True
        if self.description is not None:
            data["description"] = self.description
        if self.candidate is not None:
            data["candidate"] = self.candidate
        return data


def _text(value: object, longest: int, what: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > longest:
        raise BadSignal(f"{what} must be text of at most {longest} characters.")
    return value


def parse(body: object) -> Signal:
    """A signal from a POSTed JSON body; ``BadSignal`` saying what is wrong."""
    if not isinstance(body, dict):
        raise BadSignal("A signal is a JSON object.")
    to = body.get("to")
    if not isinstance(to, int) or isinstance(to, bool) or not 0 < to < 2**63:
        raise BadSignal("'to' must be the user id of someone in the meeting.")
    connection = body.get("connection")
    if not isinstance(connection, str) or not CONNECTION_ID.match(connection):
        raise BadSignal("'connection' must be 8 to 32 lowercase hex digits.")
    description = body.get("description")
    candidate = body.get("candidate")
    if body.get("hello") is True and description is None and candidate is None:
        return Signal(to, connection, None, None, hello=True)
    if (description is None) == (candidate is None):
        raise BadSignal("A signal carries either a description or a candidate.")
    if description is not None:
        if not isinstance(description, dict) or description.get("type") not in ("offer", "answer"):
            raise BadSignal("A description is an offer or an answer.")
        sdp = _text(description.get("sdp"), LONGEST_SDP, "An offer or answer")
        description = {"type": description["type"], "sdp": sdp}
    else:
        if not isinstance(candidate, dict):
            raise BadSignal("A candidate is a JSON object.")
        line = candidate.get("sdpMLineIndex")
        if line is not None and (
            not isinstance(line, int) or isinstance(line, bool) or not 0 <= line < 16
        ):
            raise BadSignal("'sdpMLineIndex' must be a small number.")
        candidate = {
            "candidate": _text(candidate.get("candidate"), LONGEST_CANDIDATE, "A candidate"),
            "sdpMid": _text(candidate.get("sdpMid"), 32, "'sdpMid'", optional=True),
            "sdpMLineIndex": line,
            "usernameFragment": _text(
                candidate.get("usernameFragment"), 256, "'usernameFragment'", optional=True
            ),
        }
    return Signal(to, connection, description, candidate)


def sending_sections(sdp: str) -> list[bool]:
    """For each media section of ``sdp``, in order: whether its author sends on it."""
    sections: list[bool] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            # A section with no direction attribute is sendrecv (RFC 3264); a port of 0
            # is a section refused or stopped.
            port = line.split()[1] if len(line.split()) > 1 else "0"
            sections.append(port != "0")
        elif sections and line.strip() in ("a=recvonly", "a=inactive"):
            sections[-1] = False
    return sections


def may_send(signal: Signal, rank: Rank, me: MediaState, room: Room) -> Decision:
    """Whether the sender may send what the signal's description says it will."""
    if signal.description is None:
        return Decision(True)
    sections = sending_sections(signal.description["sdp"])
    if len(sections) > len(ORDER):
        return Decision(False, "A connection carries a microphone, a camera and a screen only.")
    for kind, sends in zip(ORDER, sections, strict=False):
        if sends:
            decision = may_publish(kind, rank, me, room)
            if not decision:
                return decision
    return Decision(True)


def recipient(sender: Participation, to: int) -> Participation | None:
    """The person the signal is for: present in the sender's meeting, not the sender."""
    if to == sender.user_id:
        return None
    return db.session.scalar(
        sa.select(Participation).where(
            Participation.session_id == sender.session_id,
            Participation.user_id == to,
            Participation.left_at.is_(None),
        )
    )


def store(sender: Participation, signal: Signal) -> None:
    """Append the signal for delivery; the caller commits."""
    events.append(
        sender.session.room_id,
        Kind.SIGNAL,
        sender.session_id,
        **{"from": sender.user_id, **signal.data},
    )


def forget_old() -> int:
    """Delete signals older than a few minutes (the upkeep; the caller commits)."""
    return db.session.execute(
        sa.delete(Event)
        .where(
            Event.kind == Kind.SIGNAL.value,
            Event.created_at < utcnow() - KEEP,
            events.not_the_newest(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount


class Pace:
    """At most ``PER_MINUTE`` signals a minute per person and worker, in memory: a
    real page sends far fewer, and a loop of them must not fill the log. (Counted per
    worker: with two workers a person gets up to twice as many, still harmless.)"""

    def __init__(self, per_minute: int = PER_MINUTE) -> None:
        self.per_minute = per_minute
        self.buckets: OrderedDict[int, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    def allow(self, key: int) -> bool:
        now = time.monotonic()
        rate = self.per_minute / 60
        with self.lock:
            tokens, at = self.buckets.pop(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            allowed = tokens >= 1
            self.buckets[key] = (tokens - 1 if allowed else tokens, now)
            while len(self.buckets) > 10_000:
                self.buckets.popitem(last=False)
        return allowed


PACE = Pace()
