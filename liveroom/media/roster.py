"""The media roster: what every page in a meeting needs to run its audio and video.

Sent with the people lists (the same coalesced flush, liveroom/live/people.py) as
one hidden element, ``#media-roster``, whose ``data-roster`` attribute holds it as
JSON, the same for everyone: who is present, what each sends, who is muted, invited
or allowed to share, and the stage mode. The pages' scripts
(static/js/media/room-media.js) connect, play and stop by it. Past the mesh's size
it says so instead of listing anyone: media then needs the media server.
"""

from __future__ import annotations

from dataclasses import dataclass

from liveroom.media.backend import backend_for
from liveroom.media.rules import StageMode
from liveroom.models import LiveSession, Participation
from liveroom.rooms.policy import shown_rank
from liveroom.text import initial


def person_entry(person: Participation) -> dict:
    name = person.user.display_name
    return {
        "uid": person.user_id,
        "name": name,
        "initials": initial(name),
        "rank": shown_rank(person).name.lower(),
        "mic": person.mic_on,
        "camera": person.camera_on,
        "screen": person.screen_on,
        "hand": person.hand_raised_at is not None,
        "on_stage": person.on_stage,
        "strong_muted": person.strong_muted,
        "may_share": person.may_share,
    }


def roster(session: LiveSession, people: list[Participation], present: int) -> dict:
    """The roster of ``session`` from the people present (all of them, when they are
    few enough for its media: the mesh's limit, or the media server's; ``present``
    is how many there are)."""
    limit = backend_for(session).people_limit
    fits = present <= limit and len(people) >= present
    return {
        "mode": session.stage_mode,
        "strong": session.strong_mute,
        "mesh_ok": fits,
        # A key the page's script says in its own words (liveroom/script_strings.py).
        "reason": "" if fits else "needsMediaServer",
        "people": [person_entry(person) for person in people] if fits else [],
    }


@dataclass(frozen=True)
class MediaView:
    """The stage's switches as the panel and its controls show them."""

    mode: StageMode
    strong: bool
    modes: tuple[StageMode, ...] = tuple(StageMode)


def media_view(session: LiveSession) -> MediaView:
    return MediaView(StageMode(session.stage_mode), session.strong_mute)
