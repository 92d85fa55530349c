"""Who may publish what in a meeting, and who may act on someone's media.

Pure functions of the stored state: the views, the signalling route and the
templates' flags all ask here, and nothing else decides. The ranks and the "acts on"
rule are the room's (``liveroom/rooms/policy.py``): staff instructors are never
muted by others, promoted instructors only by staff.

A *publisher* sends a microphone, a camera or a screen. In the peer-to-peer mesh
every publisher sends one copy of each track to every other person present, so its
upload and its encoders grow with the room: the mesh holds ``MESH_PUBLISHERS``
publishers, and publishing stops being offered once more than ``MESH_PEOPLE`` people
are present. Past either limit the room says so in plain words (audio and video
then need the school's media server) and everything else keeps working.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from liveroom.roles import Rank, acts_on

# Publishers a mesh carries at once (camera, microphone or screen, each person once).
MESH_PUBLISHERS = 6
# People present (senders and receivers) up to which a mesh carries media: each
# publisher encodes and uploads once per other person (at about 0.3 Mbit/s a camera,
# 14 copies are 4 Mbit/s up, which a school laptop and its Wi-Fi still carry).
MESH_PEOPLE = 15

NEEDS_MEDIA_SERVER = _l(
    "Audio and video in a meeting this size need the school's media server, "
    "which is not set up. Chat, hands and everything else keep working."
)


class StageMode(enum.StrEnum):
    """Who may publish: anyone, people invited after a raised hand, or invited only."""

    EVERYONE = "everyone"
    ON_REQUEST = "on_request"
    INVITE_ONLY = "invite_only"

    @property
    def label(self) -> str:
        return str(_MODE_LABELS[self])

    @property
    def hint(self) -> str:
        return str(_MODE_HINTS[self])

    @classmethod
    def from_key(cls, key: str) -> StageMode:
        try:
            return cls(key)
        except ValueError:
            raise ValueError(
                f"stage mode must be one of: {', '.join(mode.value for mode in cls)}"
            ) from None


_MODE_LABELS = {
    StageMode.EVERYONE: _l("Everyone"),
    StageMode.ON_REQUEST: _l("On request"),
    StageMode.INVITE_ONLY: _l("Invite only"),
}
_MODE_HINTS = {
    StageMode.EVERYONE: _l("Anyone may turn on their microphone, camera or screen."),
    StageMode.ON_REQUEST: _l(
        "Participants raise a hand; an instructor invites them onto the stage."
    ),
    StageMode.INVITE_ONLY: _l("Only people an instructor invites may turn on media."),
}


class Kind(enum.StrEnum):
    MIC = "mic"
    CAMERA = "camera"
    SCREEN = "screen"


@dataclass(frozen=True)
class MediaState:
    """One person's media in a meeting, as stored on their stay."""

    mic: bool = False
    camera: bool = False
    screen: bool = False
    # Muted by an instructor in the "strong" way: no unmuting until allowed.
    strong_muted: bool = False
    # Invited onto the stage (needed to publish unless the mode is "everyone").
    on_stage: bool = False
    # Allowed to share a screen (participants; instructors always may).
    may_share: bool = False

    @property
    def publishing(self) -> bool:
        return self.mic or self.camera or self.screen


@dataclass(frozen=True)
class Room:
    """What the rules need of the meeting: its stage mode, how full it is, and what
    its media carries (the mesh's limits, or the media server's, ``media.backend``)."""

    mode: StageMode
    present: int
    # People publishing now, and the staff present who are not (their places are kept).
    publishers: int
    staff_not_publishing: int
    people_limit: int = MESH_PEOPLE
    publisher_limit: int = MESH_PUBLISHERS

    @property
    def on_media_server(self) -> bool:
        return self.publisher_limit > MESH_PUBLISHERS


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def may_publish(kind: Kind, rank: Rank, me: MediaState, room: Room) -> Decision:
    """Whether this person may turn on ``kind`` now; the reason, in words, if not."""
    if kind is Kind.MIC and me.strong_muted and rank is not Rank.STAFF:
        return Decision(False, _("An instructor muted you. Raise your hand to ask to speak."))
    if kind is Kind.SCREEN and not (rank.is_instructor or me.may_share):
        return Decision(False, _("Only instructors, and people they allow, can share a screen."))
    if not rank.is_instructor and room.mode is not StageMode.EVERYONE and not me.on_stage:
        if room.mode is StageMode.ON_REQUEST:
            return Decision(
                False,
                _("Raise your hand to ask to speak; an instructor invites you onto the stage."),
            )
        return Decision(
            False, _("Only people an instructor invites onto the stage can turn on media.")
        )
    if me.publishing:
        return ALLOWED  # already holds a place: another track of theirs costs none
    if room.present > room.people_limit:
        return Decision(False, str(NEEDS_MEDIA_SERVER))
    kept_for_staff = 0 if rank is Rank.STAFF else room.staff_not_publishing
    if room.publishers + kept_for_staff >= room.publisher_limit:
        if room.on_media_server:
            said = _(
                "%(limit)s people already send audio or video, the most this meeting "
                "carries. Try again when someone stops.",
                limit=room.publisher_limit,
            )
        else:
            said = _(
                "%(limit)s people already send audio or video, the most this meeting "
                "carries without the school's media server. Try again when someone stops.",
                limit=room.publisher_limit,
            )
        return Decision(False, said)
    return ALLOWED


def may_act_on_media(actor: Rank, target: Rank) -> bool:
    """Mute a microphone, turn a camera off, stop a share: any instructor, on whom the
    room lets them act (never on staff; promoted instructors on participants only)."""
    return actor.is_instructor and acts_on(actor, target)


def may_mute_all(actor: Rank) -> bool:
    """Mute every participant (standard or strong), and allow them again."""
    return actor.is_instructor


def may_change_stage_mode(actor: Rank) -> bool:
    """Only staff change who may publish."""
    return actor is Rank.STAFF


def may_invite(actor: Rank, target: Rank) -> bool:
    """Invite someone onto the stage, or back off it; allow or stop their screen sharing."""
    return actor.is_instructor and acts_on(actor, target)


def receives(sender: MediaState, kind: Kind) -> bool:
    """What every receiver plays of a sender: only what the stored state says is on
    (a strong-muted microphone never, whatever a modified browser sends)."""
    if kind is Kind.MIC:
        return sender.mic and not sender.strong_muted
    return sender.camera if kind is Kind.CAMERA else sender.screen
