"""Media in the live room, on the server: one's own microphone, camera and screen, the
instructors' controls, the stage modes, the mesh's limit, and the signals between
browsers (authenticated, for one person, refused when they would send what the rules
forbid, never replayed). The browsers' side is tests/test_media_browser.py."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from liveroom.events import newest_id
from liveroom.extensions import db
from liveroom.media.rules import MESH_PUBLISHERS
from liveroom.models import Event, LiveSession, Participation
from liveroom.roles import ChannelRole
from tests.conftest import HTMX, as_user, text_of
from tests.test_staff_rules import Meeting

# An offer as Chromium writes one, cut to what the server reads: the three sections.
OFFER = """v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=mid:0
a={mic}
m=video 9 UDP/TLS/RTP/SAVPF 96
a=mid:1
a={camera}
m=video 9 UDP/TLS/RTP/SAVPF 96
a=mid:2
a={screen}
"""


def offer(mic="recvonly", camera="recvonly", screen="recvonly") -> dict:
    return {"type": "offer", "sdp": OFFER.format(mic=mic, camera=camera, screen=screen)}


@pytest.fixture
def meeting(app, world):
    return Meeting(app, world)


def media(meeting, who, action, **data):
    return meeting.post(who, f"media/{action}", session=meeting.session, **data)


def state(meeting, who, kind, on):
    return media(meeting, who, "state", kind=kind, on="1" if on else "0")


def flags(meeting, username):
    with meeting.app.app_context():
        person = db.session.get(Participation, meeting.stay(username))
        return {
            "mic": person.mic_on,
            "camera": person.camera_on,
            "screen": person.screen_on,
            "strong": person.strong_muted,
            "stage": person.on_stage,
            "share": person.may_share,
        }


def roster(response) -> dict:
    html = response.get_data(as_text=True)
    found = re.search(r"id=\"media-roster\" data-roster='([^']*)'", html)
    assert found, "the panel has no media roster"
    import html as html_lib

    return json.loads(html_lib.unescape(found.group(1)))


def signal(meeting, who, to, **body):
    body = {"session": meeting.session, "to": to, "connection": "0123456789abcdef", **body}
    return meeting.people[who].post(f"/rooms/{meeting.id}/media/signal", json=body, headers=HTMX)


# --- One's own media ------------------------------------------------------------------


def test_a_pupil_turns_her_microphone_on_and_everyone_sees_it(meeting):
    assert state(meeting, "sam", "mic", True).status_code == 204
    assert flags(meeting, "sam")["mic"]
    sam = next(p for p in roster(meeting.page("priya"))["people"] if p["name"] == "Sam Lee")
    assert sam["mic"] and not sam["camera"]
    # The people list says so in words, for everyone.
    assert "microphone on" in text_of(meeting.page("teacher")).lower()
    assert state(meeting, "sam", "mic", False).status_code == 204
    assert not flags(meeting, "sam")["mic"]


def test_only_instructors_and_allowed_pupils_share_a_screen(meeting):
    refused = state(meeting, "sam", "screen", True)
    assert refused.status_code == 403
    assert "allow" in text_of(refused)
    assert (
        media(meeting, "teacher", f"people/{meeting.stay('sam')}/share", on="1").status_code == 204
    )
    assert state(meeting, "sam", "screen", True).status_code == 204
    # Withdrawing the leave stops the share at once.
    media(meeting, "teacher", f"people/{meeting.stay('sam')}/share", on="0")
    assert not flags(meeting, "sam")["screen"]


def test_a_bad_kind_or_flag_is_a_readable_400(meeting):
    assert state(meeting, "sam", "radio", True).status_code == 400
    response = media(meeting, "sam", "state", kind="mic", on="yes")
    assert response.status_code == 400 and "1 or 0" in text_of(response)


def test_someone_not_in_the_meeting_cannot_publish(meeting):
    response = meeting.post("late", "media/state", session=meeting.session, kind="mic", on="1")
    assert response.status_code == 403


# --- The instructors' controls -----------------------------------------------------------


def test_the_teacher_mutes_a_pupil_and_turns_her_camera_off(meeting):
    state(meeting, "sam", "mic", True)
    state(meeting, "sam", "camera", True)
    stay = meeting.stay("sam")
    assert media(meeting, "teacher", f"people/{stay}/mute").status_code == 204
    assert media(meeting, "teacher", f"people/{stay}/camera-off").status_code == 204
    assert flags(meeting, "sam")["mic"] is False and flags(meeting, "sam")["camera"] is False
    # A standard mute: she may unmute herself.
    assert state(meeting, "sam", "mic", True).status_code == 204


def test_nobody_turns_another_persons_microphone_on(meeting):
    # There is no such action: the only way on is one's own state, for oneself.
    response = meeting.post("teacher", "media/state", session=meeting.session, kind="mic", on="1")
    assert response.status_code == 204
    assert not flags(meeting, "sam")["mic"]


def test_strong_mute_all_holds_until_allowed_and_a_forged_unmute_is_refused(meeting):
    state(meeting, "sam", "mic", True)
    state(meeting, "teacher", "mic", True)
    assert media(meeting, "teacher", "mute-all", strong="1").status_code == 204
    assert flags(meeting, "sam")["mic"] is False and flags(meeting, "sam")["strong"]
    # Staff are never muted by "mute all".
    assert flags(meeting, "teacher")["mic"] is True
    forged = state(meeting, "sam", "mic", True)
    assert forged.status_code == 403 and "muted" in text_of(forged)
    assert not flags(meeting, "sam")["mic"]
    # Someone arriving during the strong mute comes in muted too.
    meeting.post("late", "join")
    assert flags(meeting, "late")["strong"]
    # One by one, then everyone.
    media(meeting, "teacher", f"people/{meeting.stay('sam')}/allow-unmute")
    assert state(meeting, "sam", "mic", True).status_code == 204
    assert state(meeting, "late", "mic", True).status_code == 403
    assert media(meeting, "teacher", "allow-all").status_code == 204
    assert state(meeting, "late", "mic", True).status_code == 204


def test_staff_are_never_muted_and_moderators_only_by_staff(meeting):
    meeting.post("co", "join")  # the channel's Moderator: staff
    meeting.promote("priya")
    state(meeting, "co", "mic", True)
    state(meeting, "priya", "mic", True)
    state(meeting, "sam", "mic", True)
    # Priya, promoted, mutes a participant, but not staff and not herself promoted peers.
    assert media(meeting, "priya", f"people/{meeting.stay('sam')}/mute").status_code == 204
    refused = media(meeting, "priya", f"people/{meeting.stay('co')}/mute")
    assert refused.status_code == 403 and "instructor" in text_of(refused)
    assert media(meeting, "teacher", f"people/{meeting.stay('co')}/mute").status_code == 403
    assert flags(meeting, "co")["mic"]
    # Staff mute a promoted instructor.
    assert media(meeting, "teacher", f"people/{meeting.stay('priya')}/mute").status_code == 204
    # A participant mutes nobody.
    state(meeting, "priya", "mic", True)
    assert media(meeting, "sam", f"people/{meeting.stay('priya')}/mute").status_code == 403


# --- Stage modes -------------------------------------------------------------------------


def test_a_meeting_starts_in_the_sites_default_mode(app, world, meeting):
    with app.app_context():
        assert db.session.get(LiveSession, meeting.session).stage_mode == "everyone"
    result = meeting.cli("settings", "set", "defaultStageMode", "invite_only")
    assert result.exit_code == 0, result.output
    meeting.post("teacher", "end")
    meeting.post("teacher", "start")
    with app.app_context():
        newest = db.session.scalar(sa.select(LiveSession).order_by(LiveSession.id.desc()))
        assert newest.stage_mode == "invite_only"
    bad = meeting.cli("settings", "set", "defaultStageMode", "anyone")
    assert bad.exit_code != 0 and "stage mode must be one of" in bad.output


def test_invite_only_refuses_an_uninvited_publish_until_invited(meeting):
    state(meeting, "sam", "camera", True)
    assert media(meeting, "teacher", "stage-mode", mode="invite_only").status_code == 204
    # Switching stopped what uninvited participants sent.
    assert not flags(meeting, "sam")["camera"]
    refused = state(meeting, "sam", "mic", True)
    assert refused.status_code == 403 and "invite" in text_of(refused)
    media(meeting, "teacher", f"people/{meeting.stay('sam')}/stage", on="1")
    assert state(meeting, "sam", "mic", True).status_code == 204
    # Taken off the stage: her microphone stops with it.
    media(meeting, "teacher", f"people/{meeting.stay('sam')}/stage", on="0")
    assert not flags(meeting, "sam")["mic"]


def test_on_request_a_raised_hand_is_invited_onto_the_stage(meeting):
    media(meeting, "teacher", "stage-mode", mode="on_request")
    refused = state(meeting, "sam", "mic", True)
    assert "Raise your hand" in text_of(refused)
    meeting.post("sam", "hand", raised="1")
    media(meeting, "teacher", f"people/{meeting.stay('sam')}/stage", on="1")
    assert flags(meeting, "sam")["stage"]
    assert state(meeting, "sam", "mic", True).status_code == 204
    with meeting.app.app_context():
        assert db.session.get(Participation, meeting.stay("sam")).hand_raised_at is None


def test_only_staff_change_the_stage_mode(meeting):
    meeting.promote("priya")
    refused = media(meeting, "priya", "stage-mode", mode="invite_only")
    assert refused.status_code == 403
    bad = media(meeting, "teacher", "stage-mode", mode="anyone")
    assert bad.status_code == 400 and "stage mode must be one of" in text_of(bad)


# --- The mesh's limit --------------------------------------------------------------------


def test_the_seventh_publisher_hears_why(app, world):
    meeting = Meeting(app, world)
    extra = [f"pupil{n}" for n in range(MESH_PUBLISHERS)]
    for name in extra:
        world.user(name)
        world.add_member(meeting.channel, name, ChannelRole.MEMBER)
        meeting.people[name] = as_user(app, name)
        meeting.post(name, "join")
    publishing = ["sam", "priya", *extra[: MESH_PUBLISHERS - 3]]
    for name in publishing:
        assert state(meeting, name, "camera", True).status_code == 204
    # Five publish; one place is kept for the teacher, so a sixth pupil is refused.
    refused = state(meeting, extra[-1], "camera", True)
    assert refused.status_code == 403
    assert "media server" in text_of(refused)
    assert state(meeting, "teacher", "camera", True).status_code == 204


# --- Signals -----------------------------------------------------------------------------


def test_a_signal_reaches_its_one_recipient_and_is_never_replayed(meeting):
    priya = meeting.stream("priya")
    sam = meeting.stream("sam")
    with meeting.app.app_context():
        cursor = newest_id()
    answer = signal(meeting, "teacher", meeting.user_id("priya"), description=offer())
    assert answer.status_code == 204, text_of(answer)
    signal(meeting, "teacher", meeting.user_id("sam"), candidate={"candidate": "", "sdpMid": "0"})
    to_priya = json.loads(priya.wait_for(lambda e: e.event == "signal").data)
    to_sam = json.loads(sam.wait_for(lambda e: e.event == "signal").data)
    assert to_priya["from"] == meeting.user_id("teacher")
    assert to_priya["description"]["type"] == "offer" and "candidate" not in to_priya
    assert "candidate" in to_sam and "description" not in to_sam
    assert len([e for e in priya.seen if e.event == "signal"]) == 1
    priya.close()
    sam.close()
    # A page that reconnects from before the signal does not get it again.
    again = meeting.stream("priya", last_event_id=cursor)
    again.wait_for_comments(1)
    assert not [e for e in again.seen if e.event == "signal"]
    again.close()


def test_signals_to_or_from_people_outside_the_meeting_are_refused(meeting):
    outsider = signal(meeting, "late", meeting.user_id("sam"), description=offer())
    assert outsider.status_code == 403
    nobody = signal(meeting, "sam", meeting.user_id("late"), description=offer())
    assert nobody.status_code == 404
    # Removed: her signals stop at once.
    meeting.post("teacher", f"people/{meeting.stay('priya')}/remove")
    removed = signal(meeting, "priya", meeting.user_id("sam"), description=offer())
    assert removed.status_code == 403
    with meeting.app.app_context():
        kinds = db.session.scalars(sa.select(Event.kind).where(Event.kind == "signal")).all()
    assert kinds == []


def test_a_signal_to_a_meeting_one_is_not_in_is_refused(app, world, meeting):
    world.user("other_teacher")
    other = world.channel("Chemistry", other_teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER)
    other_room = world.room_of(other)
    teacher = as_user(app, "other_teacher")
    teacher.post(f"/rooms/{other_room}/start", headers=HTMX)
    # Sam is in Biology, not Chemistry: a signal posted to Chemistry's meeting is refused.
    response = meeting.people["sam"].post(
        f"/rooms/{other_room}/media/signal",
        json={
            "to": meeting.user_id("teacher"),
            "connection": "0123456789abcdef",
            "description": offer(),
        },
        headers=HTMX,
    )
    assert response.status_code == 403


def test_a_strong_muted_pupil_cannot_negotiate_sending_audio(meeting):
    media(meeting, "teacher", "mute-all", strong="1")
    refused = signal(meeting, "sam", meeting.user_id("teacher"), description=offer(mic="sendrecv"))
    assert refused.status_code == 403 and "muted" in text_of(refused)
    # Receiving, or sending the camera, is still hers to negotiate.
    fine = signal(meeting, "sam", meeting.user_id("teacher"), description=offer(camera="sendrecv"))
    assert fine.status_code == 204


@pytest.mark.parametrize(
    "body, says",
    [
        ({"to": "teacher"}, "'to'"),
        ({"connection": "NOT HEX!"}, "'connection'"),
        ({"description": {"type": "pranswer", "sdp": "v=0"}}, "offer or an answer"),
        ({"description": {"type": "offer", "sdp": "x" * 40_000}}, "at most"),
        ({"candidate": "a string"}, "JSON object"),
        ({}, "either a description or a candidate"),
    ],
)
def test_a_malformed_signal_is_a_readable_400(meeting, body, says):
    full = {"to": meeting.user_id("teacher"), "connection": "0123456789abcdef"}
    full.update(body)
    if "description" not in body and "candidate" not in body and body != {}:
        full["description"] = offer()
    response = meeting.people["sam"].post(
        f"/rooms/{meeting.id}/media/signal", json={"session": meeting.session, **full}, headers=HTMX
    )
    assert response.status_code == 400
    assert says in text_of(response)


def test_the_person_menu_offers_turning_off_only_what_is_on(meeting):
    state(meeting, "sam", "mic", True)
    page = meeting.page("teacher").get_data(as_text=True)
    sam_row = re.search(rf'<li id="person-{meeting.stay("sam")}".*?</li>', page, re.S).group(0)
    assert "Mute microphone" in sam_row and "Turn camera off" not in sam_row


def test_the_stage_switches_follow_for_every_instructor_without_a_reload(meeting):
    meeting.post("co", "join")  # a second staff instructor, watching
    co = meeting.stream("co")
    media(meeting, "teacher", "stage-mode", mode="on_request")
    changed = co.wait_for(lambda e: 'id="stage-mode"' in e.data)
    assert re.search(r'<option value="on_request"\s+selected', changed.data)
    assert "raise a hand" in changed.data
    media(meeting, "teacher", "mute-all", strong="1")
    strong = co.wait_for(lambda e: 'id="media-controls"' in e.data)
    assert "Allow everyone to unmute" in strong.data
    co.close()


def test_a_refusal_asked_for_as_text_is_the_sentence_alone(meeting):
    media(meeting, "teacher", "stage-mode", mode="invite_only")
    response = meeting.people["sam"].post(
        f"/rooms/{meeting.id}/media/state",
        data={"session": meeting.session, "kind": "mic", "on": "1"},
        headers={"Accept": "text/plain"},
    )
    assert response.status_code == 403
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == (
        "Only people an instructor invites onto the stage can turn on media."
    )


def test_a_hello_asks_the_other_page_to_offer_again(meeting):
    teacher = meeting.stream("teacher")
    hello = signal(meeting, "sam", meeting.user_id("teacher"), hello=True)
    assert hello.status_code == 204, text_of(hello)
    heard = json.loads(teacher.wait_for(lambda e: e.event == "signal").data)
    assert heard == {
        "from": meeting.user_id("sam"),
        "connection": "0123456789abcdef",
        "hello": True,
    }
    teacher.close()


def test_ice_servers_come_from_the_environment_and_bad_ones_stop_the_start(monkeypatch, tmp_path):
    from liveroom.config import load_config

    monkeypatch.setenv("LIVEROOM_ICE_SERVERS", '[{"urls": "stun:stun.example.org"}]')
    assert load_config(str(tmp_path))["LIVEROOM_ICE_SERVERS"] == [{"urls": "stun:stun.example.org"}]
    monkeypatch.setenv("LIVEROOM_ICE_SERVERS", "stun:stun.example.org")
    with pytest.raises(RuntimeError, match="must be a JSON list"):
        load_config(str(tmp_path))


@pytest.mark.parametrize(
    "action, data",
    [
        ("mute-all", {"strong": "1"}),
        ("allow-all", {}),
        ("stage-mode", {"mode": "invite_only"}),
        ("people/{priya}/mute", {}),
        ("people/{priya}/camera-off", {}),
        ("people/{priya}/stop-share", {}),
        ("people/{priya}/allow-unmute", {}),
        ("people/{priya}/stage", {"on": "1"}),
        ("people/{priya}/share", {"on": "1"}),
    ],
)
def test_every_instructor_media_action_is_refused_to_a_participant_an_outsider_and_the_removed(
    meeting, action, data
):
    state(meeting, "priya", "mic", True)
    path = action.format(priya=meeting.stay("priya"))
    assert media(meeting, "sam", path, **data).status_code == 403
    assert meeting.post("late", f"media/{path}", **data).status_code == 403
    meeting.post("teacher", f"people/{meeting.stay('sam')}/remove")
    assert media(meeting, "sam", path, **data).status_code == 403
    assert flags(meeting, "priya")["mic"]
    with meeting.app.app_context():
        assert db.session.get(LiveSession, meeting.session).stage_mode == "everyone"


def test_the_removed_cannot_turn_their_own_media_on(meeting):
    meeting.post("teacher", f"people/{meeting.stay('sam')}/remove")
    response = state(meeting, "sam", "mic", True)
    assert response.status_code == 403


def test_turning_ones_own_media_off_tells_ones_other_pages_and_an_instructors_does_not(meeting):
    """A second tab opening starts muted: the first one must then say the microphone
    went off in another tab, not that an instructor muted it (static/js/media)."""
    assert state(meeting, "sam", "mic", True).status_code == 204
    assert state(meeting, "priya", "mic", True).status_code == 204
    sam = meeting.stream("sam")
    priya = meeting.stream("priya")
    assert state(meeting, "sam", "mic", False).status_code == 204
    told = sam.wait_for(lambda e: e.event == "media-self")
    assert told.data == "mic"
    assert media(meeting, "teacher", f"people/{meeting.stay('priya')}/mute").status_code == 204
    # Priya's list shows her microphone off; she is never told she did it herself.
    priya.wait_for(lambda e: "microphone off" in e.data.lower() and "Priya" in e.data)
    assert not any(e.event == "media-self" for e in priya.seen)
    sam.close()
    priya.close()
