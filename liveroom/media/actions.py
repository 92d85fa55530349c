"""What changes someone's media, as plain transitions the views call after the rules.

Each function changes the stored state, appends one ``media_changed`` event (the
people lists and the media roster go out coalesced, liveroom/live/people.py) and
leaves the commit to the caller. Turning something on is decided under a lock on the
meeting's row, so two people taking the mesh's last place at once get one place
between them (on SQLite the write lock serialises the same way).
"""

from __future__ import annotations

import sqlalchemy as sa

from liveroom import audit, events
from liveroom.events import Kind
from liveroom.extensions import db
from liveroom.media.backend import backend_for
from liveroom.media.rules import Decision, MediaState, Room, StageMode, may_publish
from liveroom.media.rules import Kind as MediaKind
from liveroom.models import LiveSession, Participation
from liveroom.roles import RoomRole
from liveroom.rooms.policy import Rank, shown_rank

COLUMN = {MediaKind.MIC: "mic_on", MediaKind.CAMERA: "camera_on", MediaKind.SCREEN: "screen_on"}


def state_of(person: Participation) -> MediaState:
    return MediaState(
        mic=person.mic_on,
        camera=person.camera_on,
        screen=person.screen_on,
        strong_muted=person.strong_muted,
        on_stage=person.on_stage,
        may_share=person.may_share,
    )


_ROOM_COUNTS = sa.select(
    sa.func.count(),
    sa.func.count().filter(
        sa.or_(Participation.mic_on, Participation.camera_on, Participation.screen_on)
    ),
    sa.func.count().filter(
        Participation.room_role == RoomRole.INSTRUCTOR,
        Participation.promoted.is_(False),
        sa.not_(sa.or_(Participation.mic_on, Participation.camera_on, Participation.screen_on)),
    ),
).where(Participation.session_id == sa.bindparam("session_id"), Participation.left_at.is_(None))


def room_now(session: LiveSession) -> Room:
    """The meeting as the rules see it: mode, people present, publishers, and staff
    present who do not publish (their places are kept). One query."""
    present, publishers, staff_idle = db.session.execute(
        _ROOM_COUNTS, {"session_id": session.id}
    ).one()
    backend = backend_for(session)
    return Room(
        mode=StageMode(session.stage_mode),
        present=present,
        publishers=publishers,
        staff_not_publishing=staff_idle,
        people_limit=backend.people_limit,
        publisher_limit=backend.publisher_limit,
    )


def _lock_meeting(session: LiveSession) -> None:
    """Serialise media decisions of one meeting: a row lock on PostgreSQL, the write
    lock on SQLite (the first write of the transaction takes it)."""
    db.session.execute(
        sa.update(LiveSession)
        .where(LiveSession.id == session.id)
        .values(stage_mode=LiveSession.stage_mode)
        .execution_options(synchronize_session=False)
    )


def _changed(person: Participation, action: str, by: int | None = None) -> None:
    events.append(
        person.session.room_id,
        Kind.MEDIA_CHANGED,
        person.session_id,
        user_id=person.user_id,
        participation_id=person.id,
        action=action,
        by=by,
    )
    if by is not None:  # an instructor acted on someone's media
        audit.in_meeting(by, f"media_{action}", person.session_id, person.user_id)


def set_own(person: Participation, rank: Rank, kind: MediaKind, on: bool) -> Decision:
    """The person turned their own ``kind`` on or off (their browser reports what it
    sends). Turning on follows the rules; turning off always succeeds."""
    column = COLUMN[kind]
    if not on:
        if getattr(person, column):
            setattr(person, column, False)
            _changed(person, f"{kind}_off")
        return Decision(True)
    _lock_meeting(person.session)
    db.session.refresh(person)
    decision = may_publish(kind, rank, state_of(person), room_now(person.session))
    if decision and not getattr(person, column):
        setattr(person, column, True)
        _changed(person, f"{kind}_on")
    return decision


def turn_off(person: Participation, kind: MediaKind, by: int) -> bool:
    """An instructor turned someone's ``kind`` off (nobody turns another's on).
    False when it was off already."""
    column = COLUMN[kind]
    if not getattr(person, column):
        return False
    setattr(person, column, False)
    _changed(person, f"{kind}_stopped", by)
    return True


def _participants(session: LiveSession):
    return sa.and_(
        Participation.session_id == session.id,
        Participation.left_at.is_(None),
        Participation.room_role == RoomRole.PARTICIPANT,
    )


def mute_all(session: LiveSession, strong: bool, by: int) -> None:
    """Every participant's microphone off. Strong: nobody may unmute until allowed,
    and participants who arrive later come in muted too."""
    values: dict[str, bool] = {"mic_on": False}
    if strong:
        values["strong_muted"] = True
        session.strong_mute = True
    db.session.execute(
        sa.update(Participation)
        .where(_participants(session))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    events.append(
        session.room_id,
        Kind.MEDIA_CHANGED,
        session.id,
        action="mute_all_strong" if strong else "mute_all",
        by=by,
    )
    audit.in_meeting(by, "media_mute_all_strong" if strong else "media_mute_all", session.id)


def allow_unmute(person: Participation, by: int) -> bool:
    if not person.strong_muted:
        return False
    person.strong_muted = False
    _changed(person, "allowed_to_unmute", by)
    return True


def allow_all(session: LiveSession, by: int) -> None:
    """The strong mute ends: everyone may unmute again."""
    session.strong_mute = False
    db.session.execute(
        sa.update(Participation)
        .where(Participation.session_id == session.id, Participation.strong_muted.is_(True))
        .values(strong_muted=False)
        .execution_options(synchronize_session=False)
    )
    events.append(session.room_id, Kind.MEDIA_CHANGED, session.id, action="allow_all", by=by)
    audit.in_meeting(by, "media_allow_all", session.id)


def _off_stage_stops(session: LiveSession) -> None:
    """Participants who may no longer publish in a restricted mode stop at once."""
    db.session.execute(
        sa.update(Participation)
        .where(_participants(session), Participation.on_stage.is_(False))
        .values(mic_on=False, camera_on=False, screen_on=False)
        .execution_options(synchronize_session=False)
    )


def set_stage_mode(session: LiveSession, mode: StageMode, by: int) -> bool:
    """Staff change who may publish. False when the mode was already that."""
    if session.stage_mode == mode.value:
        return False
    session.stage_mode = mode.value
    if mode is not StageMode.EVERYONE:
        _off_stage_stops(session)
    events.append(
        session.room_id, Kind.MEDIA_CHANGED, session.id, action="stage_mode", mode=mode.value, by=by
    )
    audit.in_meeting(by, "media_stage_mode", session.id, note=mode.value)
    return True


def set_stage_place(person: Participation, on: bool, by: int) -> bool:
    """Invite someone onto the stage, or take them off it (their media stops unless
    the mode lets everyone publish). False when nothing changed."""
    if person.on_stage == on:
        return False
    person.on_stage = on
    if on and person.hand_raised_at is not None:
        person.hand_raised_at = None  # the raised hand was the request: it is answered
    restricted = person.session.stage_mode != StageMode.EVERYONE.value
    if not on and restricted and shown_rank(person) is Rank.PARTICIPANT:
        person.mic_on = person.camera_on = person.screen_on = False
    _changed(person, "invited" if on else "off_stage", by)
    return True


def set_share_leave(person: Participation, on: bool, by: int) -> bool:
    """Allow a participant to share a screen, or stop allowing it (a share stops)."""
    if person.may_share == on:
        return False
    person.may_share = on
    if not on and shown_rank(person) is Rank.PARTICIPANT:
        person.screen_on = False
    _changed(person, "share_allowed" if on else "share_withdrawn", by)
    return True
