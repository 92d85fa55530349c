"""The room rules as plain functions: who may moderate, chat, change roles, read."""

from types import SimpleNamespace

import pytest

from liveroom.models import ChatMessage
from liveroom.roles import RoomRole
from liveroom.rooms import policy
from liveroom.text import linkify


def person(user_id, role=RoomRole.PARTICIPANT, left=False):
    return SimpleNamespace(user_id=user_id, room_role=role, left_at="gone" if left else None)


def session(chat_enabled=True, ended=False):
    return SimpleNamespace(chat_enabled=chat_enabled, ended_at="over" if ended else None)


INSTRUCTOR = person(1, RoomRole.INSTRUCTOR)
PARTICIPANT = person(2)
CHANNEL_ROOM = SimpleNamespace(owner_id=None)
PRIVATE_ROOM = SimpleNamespace(owner_id=9)


@pytest.mark.parametrize(
    "me, allowed",
    [
        (INSTRUCTOR, True),
        (PARTICIPANT, False),
        (person(1, RoomRole.INSTRUCTOR, left=True), False),
        (None, False),
    ],
)
def test_only_present_instructors_moderate(me, allowed):
    assert policy.may_moderate(me) is allowed


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
    "me, target, room, allowed",
    [
        (INSTRUCTOR, PARTICIPANT, CHANNEL_ROOM, True),
        (INSTRUCTOR, person(3, RoomRole.INSTRUCTOR), CHANNEL_ROOM, True),
        (INSTRUCTOR, INSTRUCTOR, CHANNEL_ROOM, False),
        (PARTICIPANT, person(3), CHANNEL_ROOM, False),
        (INSTRUCTOR, person(9, RoomRole.INSTRUCTOR), PRIVATE_ROOM, False),
        (INSTRUCTOR, PARTICIPANT, PRIVATE_ROOM, True),
    ],
)
def test_role_changes_and_removals(me, target, room, allowed):
    assert policy.may_change_role(me, target, room) is allowed
    assert policy.may_remove(me, target, room) is allowed


@pytest.mark.parametrize(
    "viewer_id, viewer_instructor, thread, allowed",
    [(5, False, None, True), (5, False, 5, True), (6, False, 5, False), (6, True, 5, True)],
)
def test_private_messages_are_for_their_participant_and_instructors(
    viewer_id, viewer_instructor, thread, allowed
):
    message = ChatMessage(body="hi", thread_user_id=thread)
    assert policy.may_read_message(viewer_id, viewer_instructor, message) is allowed


@pytest.mark.parametrize(
    "text, html",
    [
        ("plain <b>bold</b>", "plain &lt;b&gt;bold&lt;/b&gt;"),
        (
            "go to https://example.org.",
            'go to <a href="https://example.org" rel="noopener noreferrer nofollow ugc" target="_blank">https://example.org</a>.',
        ),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ('"https://x.org/" onmouseover="bad"', "&#34;"),
        (
            "(see http://a.b/c)",
            '(see <a href="http://a.b/c" rel="noopener noreferrer nofollow ugc" target="_blank">http://a.b/c</a>)',
        ),
    ],
)
def test_linkify_escapes_first_and_links_only_web_addresses(text, html):
    assert html in str(linkify(text))


def test_linkify_never_lets_a_quote_out_of_the_href():
    out = str(linkify('https://x.org/"><script>alert(1)</script>'))
    assert "<script>" not in out
    assert 'href="https://x.org/"' in out
