"""The media rules (liveroom/media/rules.py): who may publish what, and who may act on
whose microphone, camera and screen."""

from __future__ import annotations

import pytest

from liveroom.media.rules import (
    MESH_PEOPLE,
    MESH_PUBLISHERS,
    NEEDS_MEDIA_SERVER,
    Kind,
    MediaState,
    Room,
    StageMode,
    may_act_on_media,
    may_change_stage_mode,
    may_invite,
    may_mute_all,
    may_publish,
    receives,
)
from liveroom.rooms.policy import Rank

QUIET = Room(mode=StageMode.EVERYONE, present=5, publishers=0, staff_not_publishing=1)
PUPIL = MediaState()


def test_in_everyone_mode_a_pupil_may_turn_on_microphone_and_camera_but_not_share():
    assert may_publish(Kind.MIC, Rank.PARTICIPANT, PUPIL, QUIET)
    assert may_publish(Kind.CAMERA, Rank.PARTICIPANT, PUPIL, QUIET)
    refused = may_publish(Kind.SCREEN, Rank.PARTICIPANT, PUPIL, QUIET)
    assert not refused and "allow" in refused.reason


def test_a_pupil_allowed_to_share_may_share_and_instructors_always_may():
    assert may_publish(Kind.SCREEN, Rank.PARTICIPANT, MediaState(may_share=True), QUIET)
    assert may_publish(Kind.SCREEN, Rank.PROMOTED, PUPIL, QUIET)
    assert may_publish(Kind.SCREEN, Rank.STAFF, PUPIL, QUIET)


def test_a_strong_mute_holds_for_pupils_and_moderators_but_never_for_staff():
    muted = MediaState(strong_muted=True)
    assert not may_publish(Kind.MIC, Rank.PARTICIPANT, muted, QUIET)
    assert not may_publish(Kind.MIC, Rank.PROMOTED, muted, QUIET)
    assert may_publish(Kind.MIC, Rank.STAFF, muted, QUIET)
    # The camera is not the microphone.
    assert may_publish(Kind.CAMERA, Rank.PARTICIPANT, muted, QUIET)


@pytest.mark.parametrize("mode", [StageMode.ON_REQUEST, StageMode.INVITE_ONLY])
def test_outside_everyone_mode_only_invited_pupils_publish(mode):
    room = Room(mode=mode, present=5, publishers=1, staff_not_publishing=0)
    refused = may_publish(Kind.MIC, Rank.PARTICIPANT, PUPIL, room)
    assert not refused
    assert ("Raise your hand" in refused.reason) == (mode is StageMode.ON_REQUEST)
    assert may_publish(Kind.MIC, Rank.PARTICIPANT, MediaState(on_stage=True), room)
    assert may_publish(Kind.CAMERA, Rank.PROMOTED, PUPIL, room)


def test_the_mesh_keeps_a_place_for_staff_and_refuses_the_seventh():
    nearly_full = Room(
        mode=StageMode.EVERYONE,
        present=9,
        publishers=MESH_PUBLISHERS - 1,
        staff_not_publishing=1,
    )
    refused = may_publish(Kind.CAMERA, Rank.PARTICIPANT, PUPIL, nearly_full)
    assert not refused and str(MESH_PUBLISHERS) in refused.reason
    assert may_publish(Kind.CAMERA, Rank.STAFF, PUPIL, nearly_full)
    full = Room(
        mode=StageMode.EVERYONE, present=9, publishers=MESH_PUBLISHERS, staff_not_publishing=0
    )
    assert not may_publish(Kind.MIC, Rank.STAFF, PUPIL, full)
    # Someone already sending adds a track without taking another place.
    assert may_publish(Kind.MIC, Rank.PARTICIPANT, MediaState(camera=True), full)


def test_a_room_larger_than_the_mesh_needs_the_media_server():
    crowded = Room(
        mode=StageMode.EVERYONE, present=MESH_PEOPLE + 1, publishers=0, staff_not_publishing=0
    )
    refused = may_publish(Kind.MIC, Rank.STAFF, PUPIL, crowded)
    assert not refused and refused.reason == NEEDS_MEDIA_SERVER


def test_who_acts_on_whose_media():
    assert may_act_on_media(Rank.STAFF, Rank.PARTICIPANT)
    assert may_act_on_media(Rank.STAFF, Rank.PROMOTED)
    assert not may_act_on_media(Rank.STAFF, Rank.STAFF)
    assert may_act_on_media(Rank.PROMOTED, Rank.PARTICIPANT)
    assert not may_act_on_media(Rank.PROMOTED, Rank.PROMOTED)
    assert not may_act_on_media(Rank.PROMOTED, Rank.STAFF)
    assert not may_act_on_media(Rank.PARTICIPANT, Rank.PARTICIPANT)
    assert may_mute_all(Rank.PROMOTED) and not may_mute_all(Rank.PARTICIPANT)
    assert may_invite(Rank.PROMOTED, Rank.PARTICIPANT) and not may_invite(Rank.PROMOTED, Rank.STAFF)


def test_only_staff_change_the_stage_mode():
    assert may_change_stage_mode(Rank.STAFF)
    assert not may_change_stage_mode(Rank.PROMOTED)
    assert not may_change_stage_mode(Rank.PARTICIPANT)


def test_receivers_play_only_what_the_state_says_is_on():
    assert not receives(MediaState(mic=True, strong_muted=True), Kind.MIC)
    assert receives(MediaState(mic=True), Kind.MIC)
    assert not receives(MediaState(mic=True), Kind.CAMERA)
    assert receives(MediaState(screen=True), Kind.SCREEN)


def test_stage_modes_read_from_their_keys():
    assert StageMode.from_key("on_request") is StageMode.ON_REQUEST
    with pytest.raises(ValueError, match="stage mode must be one of"):
        StageMode.from_key("anyone")
