"""What people type is stored cleaned: NFC, no control characters, bidi controls closed;
room names compare as Unicode's caseless match, on SQLite and on PostgreSQL."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liveroom.roles import AppRole, ChannelRole
from liveroom.text import (
    BIDI_CONTROLS,
    balance_bidi,
    clean_line,
    clean_text,
    linkify,
    name_key,
)
from tests.conftest import HTMX, PASSWORD, World, text_of
from tests.test_postgres import pg_app  # noqa: F401  (the PostgreSQL fixture)

CAFE_NFC = "Caf\u00e9"
CAFE_NFD = "Cafe\u0301"
RLO, PDF = "\u202e", "\u202c"


def logged_in(app, username):
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    return client


# --- The functions ------------------------------------------------------------------------


def test_nul_and_other_control_characters_are_removed_but_chat_keeps_its_lines():
    assert clean_text("a\x00b\x1bc\x7fd\x85e") == "abcde"
    assert clean_text("line one\r\nline two\rthree", keep_newlines=True) == (
        "line one\nline two\nthree"
    )
    assert clean_line("Maria\n\tRivera\x00") == "Maria Rivera"


def test_both_unicode_forms_of_cafe_are_stored_alike():
    assert clean_line(CAFE_NFD) == CAFE_NFC
    assert name_key(CAFE_NFC) == name_key(CAFE_NFD) == name_key("CAFÉ")


def test_a_right_to_left_override_is_closed_where_the_name_ends():
    assert clean_line(f"Sam{RLO}gpj.exe") == f"Sam{RLO}gpj.exe{PDF}"
    # A stray closer would end someone else's embedding: it goes.
    assert clean_line(f"Sam{PDF}{PDF}") == "Sam"
    # In chat each line is balanced on its own: a new line is a new paragraph anyway.
    assert clean_text(f"a{RLO}b\nc", keep_newlines=True) == f"a{RLO}b{PDF}\nc"


def test_a_name_of_invisible_characters_is_no_name():
    assert clean_line(f" {RLO}\u200b\u2066 ") == ""


def test_a_link_hiding_bidi_controls_is_not_made_clickable():
    html = str(linkify(f"open https://example.com/{RLO}gpj.exe now"))
    assert "<a " not in html
    assert f"https://example.com/{RLO}gpj.exe" in html
    # Zero-width characters disguise an address as well.
    assert "<a " not in str(linkify("https://exa\u200bmple.com"))
    assert '<a href="https://example.com/a"' in str(linkify("see https://example.com/a."))


def test_links_and_text_are_escaped():
    html = str(linkify('<b>hi</b> https://example.com/?q="x"&y=<z>'))
    assert "<b>" not in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html
    assert 'href="https://example.com/?q=' in html and "&amp;y=" in html


def _balanced(line: str) -> bool:
    depth = 0
    for char in line:
        if char in "\u202a\u202b\u202d\u202e\u2066\u2067\u2068":
            depth += 1
        elif char in (PDF, "\u2069"):
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(sorted(BIDI_CONTROLS))))
def test_cleaned_text_is_nfc_without_controls_and_bidi_balanced(raw):
    for keep_newlines in (False, True):
        text = clean_text(raw, keep_newlines)
        assert unicodedata.is_normalized("NFC", text)
        assert all(unicodedata.category(c) not in ("Cc", "Cs", "Cn") or c in "\n\t" for c in text)
        assert keep_newlines or "\n" not in text
        assert all(_balanced(line) for line in text.split("\n"))
        assert clean_text(text, keep_newlines) == text, "cleaning twice changes nothing"
    assert balance_bidi(balance_bidi(raw)) == balance_bidi(raw)
    assert "\n" not in clean_line(raw)


# --- Through the app ------------------------------------------------------------------------


def private_room_owner(app) -> None:
    world = World(app)
    world.user("teacher", AppRole.PRIVATE_ONLY, name="Maria Rivera")
    world.enable()


@pytest.mark.parametrize("first, second", [(CAFE_NFC, CAFE_NFD), (CAFE_NFD, "cAFÉ")])
def test_cafe_typed_in_its_two_unicode_forms_is_one_room(app, first, second):
    private_room_owner(app)
    teacher = logged_in(app, "teacher")
    assert teacher.post("/my-rooms", data={"name": first}, headers=HTMX).status_code == 201
    again = teacher.post("/my-rooms", data={"name": second}, headers=HTMX)
    assert again.status_code == 422
    assert "You already have a room called" in text_of(again)


def test_a_room_name_keeps_no_nul_and_cannot_reorder_the_page(app):
    private_room_owner(app)
    teacher = logged_in(app, "teacher")
    created = teacher.post("/my-rooms", data={"name": f"Algebra\x00 {RLO}2 tes"}, headers=HTMX)
    assert created.status_code == 201
    html = created.get_data(as_text=True)
    assert "\x00" not in html
    assert f"<bdi>Algebra {RLO}2 tes{PDF}</bdi>" in html


def test_chat_and_names_are_cleaned_and_isolated(app):
    world = World(app)
    world.user("teacher", name="Maria Rivera")
    world.user("sam", name=f"Sam{RLO}eeL")
    world.enable()
    room = world.room_of(world.channel(teacher=ChannelRole.MANAGER, sam=ChannelRole.MEMBER))
    teacher, sam = logged_in(app, "teacher"), logged_in(app, "sam")
    teacher.post(f"/rooms/{room}/start", headers=HTMX)
    sam.post(f"/rooms/{room}/join", headers=HTMX)
    posted = sam.post(
        f"/rooms/{room}/chat",
        data={"body": f"see\x00 https://example.com/{RLO}fdp.exe\r\nand Cafe\u0301"},
        headers=HTMX,
    )
    assert posted.status_code == 200
    panel = teacher.post(f"/rooms/{room}/join", headers=HTMX).get_data(as_text=True)
    assert "\x00" not in panel
    assert f'<p class="message__body" dir="auto">see https://example.com/{RLO}fdp.exe{PDF}' in panel
    assert f"and {CAFE_NFC}" in panel
    assert "example.com/\u202efdp.exe\u202c</a>" not in panel, "never a link"
    assert f"<bdi>Sam{RLO}eeL</bdi>" in panel


# --- PostgreSQL: the key stays within its column however much folding grows the name ---


@pytest.mark.parametrize("name, same_name", [("ß" * 100, "ẞ" * 100), ("ﬃ" * 100, "ﬃ" * 100)])
def test_long_names_that_grow_when_folded_work_on_postgresql(pg_app, name, same_name):  # noqa: F811
    private_room_owner(pg_app)
    teacher = logged_in(pg_app, "teacher")
    # Folded, the name is 200 or 300 characters long: the key is a digest all the same.
    assert len(unicodedata.normalize("NFKC", name).casefold()) > 100
    created = teacher.post("/my-rooms", data={"name": name}, headers=HTMX)
    assert created.status_code == 201, text_of(created)
    assert name in text_of(created)
    again = teacher.post("/my-rooms", data={"name": same_name}, headers=HTMX)
    assert again.status_code == 422
    assert "You already have a room called" in text_of(again)
