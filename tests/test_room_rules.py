"""The room rules as plain functions: who may moderate, chat, change roles, read."""

from types import SimpleNamespace

import pytest

from liveroom.models import ChatMessage
from liveroom.roles import RoomRole
from liveroom.rooms import policy
from liveroom.rooms.policy import Rank, Rights
from liveroom.text import linkify


def person(user_id, role=RoomRole.PARTICIPANT, left=False, promoted=False, hand=False):
    return SimpleNamespace(
        user_id=user_id,
        room_role=role,
        left_at="gone" if left else None,
        promoted=promoted,
        hand_raised_at="up" if hand else None,
        id=user_id,
        mic_on=False,
        camera_on=False,
        screen_on=False,
        strong_muted=False,
        on_stage=False,
        may_share=False,
    )


def session(chat_enabled=True, ended=False):
    return SimpleNamespace(chat_enabled=chat_enabled, ended_at="over" if ended else None)


INSTRUCTOR = person(1, RoomRole.INSTRUCTOR)
PARTICIPANT = person(2)
STAFF, PROMOTED, PUPIL = Rank.STAFF, Rank.PROMOTED, Rank.PARTICIPANT


def rights(rank, me_id=1, present=True, **known):
    return Rights(rank=rank, present=present, me_id=me_id, **known)


@pytest.mark.parametrize(
    "stay, rank",
    [
        (person(1, RoomRole.INSTRUCTOR), STAFF),
        (person(1, RoomRole.INSTRUCTOR, promoted=True), PROMOTED),
        (person(1), PUPIL),
    ],
)
def test_a_stay_records_its_rank(stay, rank):
    assert policy.shown_rank(stay) is rank


@pytest.mark.parametrize(
    "rank, present, moderate, run_room",
    [
        (STAFF, True, True, True),
        (PROMOTED, True, True, False),
        (PUPIL, True, False, False),
        (STAFF, False, False, False),
    ],
)
def test_staff_run_the_room_and_moderators_only_moderate(rank, present, moderate, run_room):
    assert rights(rank, present=present).moderate is moderate
    assert rights(rank, present=present).run_room is run_room


@pytest.mark.parametrize(
    "actor, target, change_role, remove",
    [
        (STAFF, PUPIL, True, True),
        (STAFF, PROMOTED, True, True),
        (STAFF, STAFF, False, False),
        (PROMOTED, PUPIL, False, True),
        (PROMOTED, PROMOTED, False, False),
        (PROMOTED, STAFF, False, False),
        (PUPIL, PUPIL, False, False),
        (PUPIL, STAFF, False, False),
    ],
)
def test_who_may_change_roles_and_remove_whom(actor, target, change_role, remove):
    assert rights(actor).may_change_role(target, target_user_id=2) is change_role
    assert rights(actor).may_remove(target, target_user_id=2) is remove


def test_nobody_acts_on_themselves():
    assert not rights(STAFF, me_id=2).may_remove(PUPIL, target_user_id=2)
    assert not rights(STAFF, me_id=2).may_change_role(PUPIL, target_user_id=2)


@pytest.mark.parametrize(
    "actor, author, allowed",
    [
        (STAFF, STAFF, True),
        (STAFF, PROMOTED, True),
        (PROMOTED, PUPIL, True),
        (PROMOTED, PROMOTED, False),
        (PROMOTED, STAFF, False),
        (PUPIL, PUPIL, False),
    ],
)
def test_moderators_delete_participants_messages_only(actor, author, allowed):
    assert rights(actor).may_delete(author) is allowed


@pytest.mark.parametrize(
    "actor, admit, entry_is_staff, allowed",
    [
        (STAFF, True, False, True),
        (STAFF, False, False, True),
        (STAFF, False, True, False),
        (PROMOTED, False, False, True),
        (PROMOTED, False, True, False),
        (PROMOTED, True, True, True),
        (PUPIL, True, False, False),
    ],
)
def test_nobody_denies_a_staff_instructor(actor, admit, entry_is_staff, allowed):
    assert rights(actor).may_decide(admit, entry_is_staff) is allowed


@pytest.mark.parametrize(
    "viewer, target, offered",
    [
        (
            STAFF,
            person(2, hand=True),
            {
                "set_moderator",
                "lower_hand",
                "message_privately",
                "remove",
                "invite_to_stage",
                "allow_share",
            },
        ),
        (STAFF, person(2, RoomRole.INSTRUCTOR, promoted=True), {"make_participant", "remove"}),
        (STAFF, person(2, RoomRole.INSTRUCTOR), set()),
        (
            PROMOTED,
            person(2, hand=True),
            {"lower_hand", "remove", "invite_to_stage", "allow_share"},
        ),
        (PROMOTED, person(2, RoomRole.INSTRUCTOR, promoted=True), set()),
        (PROMOTED, person(2, RoomRole.INSTRUCTOR), set()),
        (PUPIL, person(2, hand=True), set()),
    ],
)
def test_the_person_menu_offers_only_what_the_viewer_may_do(viewer, target, offered):
    menu = rights(viewer).menu(target)
    actions = {
        "set_moderator",
        "make_participant",
        "lower_hand",
        "message_privately",
        "remove",
        "mute",
        "camera_off",
        "stop_share",
        "allow_unmute",
        "invite_to_stage",
        "remove_from_stage",
        "allow_share",
        "stop_allow_share",
    }
    assert {a for a in actions if getattr(menu, a)} == offered
    assert menu.has_actions is bool(offered)


@pytest.mark.parametrize(
    "stay, badge, staff",
    [
        (person(2, RoomRole.INSTRUCTOR), "Instructor", True),
        (person(2, RoomRole.INSTRUCTOR, promoted=True), "Moderator", False),
        (person(2), "Participant", False),
    ],
)
def test_badges_tell_staff_from_moderators(stay, badge, staff):
    menu = rights(PUPIL).menu(stay)
    assert (menu.badge, menu.staff) == (badge, staff)


@pytest.mark.parametrize(
    "me, room_session, allowed",
    [
        (PARTICIPANT, session(chat_enabled=True), True),
        (PARTICIPANT, session(chat_enabled=False), False),
        (INSTRUCTOR, session(chat_enabled=False), True),
        (PARTICIPANT, session(ended=True), False),
        (person(2, left=True), session(), False),
        (None, session(), False),
    ],
)
def test_who_may_chat(me, room_session, allowed):
    assert policy.may_chat(me, room_session) is allowed


@pytest.mark.parametrize(
    "viewer_id, reads_all_threads, thread, allowed",
    [(5, False, None, True), (5, False, 5, True), (6, False, 5, False), (6, True, 5, True)],
)
def test_private_threads_are_for_their_person_and_the_staff(
    viewer_id, reads_all_threads, thread, allowed
):
    message = ChatMessage(body="hi", thread_user_id=thread)
    assert policy.may_read_message(viewer_id, reads_all_threads, message) is allowed


def test_only_staff_read_every_thread():
    assert rights(STAFF).reads_all_threads
    assert not rights(PROMOTED).reads_all_threads
    assert not rights(PUPIL).reads_all_threads


@pytest.mark.parametrize(
    "text, html",
    [
        ("plain <b>bold</b>", "plain &lt;b&gt;bold&lt;/b&gt;"),
        (
            "go to https://example.org.",
            'go to <a href="https://example.org" dir="ltr" rel="noopener noreferrer nofollow ugc" target="_blank">https://example.org</a>.',
        ),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ('"https://x.org/" onmouseover="bad"', "&#34;"),
        (
            "(see http://a.b/c)",
            '(see <a href="http://a.b/c" dir="ltr" rel="noopener noreferrer nofollow ugc" target="_blank">http://a.b/c</a>)',
        ),
    ],
)
def test_linkify_escapes_first_and_links_only_web_addresses(text, html):
    assert html in str(linkify(text))


def test_linkify_never_lets_a_quote_out_of_the_href():
    out = str(linkify('https://x.org/"><script>alert(1)</script>'))
    assert "<script>" not in out
    assert 'href="https://x.org/"' in out
