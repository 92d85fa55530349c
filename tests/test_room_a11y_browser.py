"""The live room for screen readers and keyboards, in Chromium: what the room's one
live region says while others chat, raise hands and arrive; a meeting run with the
keyboard alone (shortcuts, Tab, Enter, Space); the shortcuts dialog and its switch;
the layout mirrored in Arabic.

What the live region says is recorded in the page by a MutationObserver, as a screen
reader would hear it: each text it is given, in order."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from liveroom import events  # noqa: E402
from liveroom.events import Kind  # noqa: E402
from liveroom.extensions import db  # noqa: E402
from liveroom.models import LiveSession, Participation, User  # noqa: E402
from liveroom.roles import RoomRole  # noqa: E402
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app, log_in, open_link, serve  # noqa: E402

pytestmark = pytest.mark.browser

DEADLINE_MS = 20_000
MEDIA_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
NEWCOMERS = [
    ("student3", "Noor Newcomer"),
    ("student4", "Omar Okafor"),
    ("student5", "Lena Lund"),
    ("student6", "Ravi Rao"),
]

# Every text the live region is given, in order (empty resets left out).
RECORD = """() => {
  if (window.__heard) return;
  window.__heard = [];
  const region = document.getElementById("meeting-announcer");
  new MutationObserver(() => {
    const text = region.textContent.trim();
    if (text) window.__heard.push(text);
  }).observe(region, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def school(tmp_path):
    """The demo, with four more pupils in Biology 101: (app, base URL)."""
    app = demo_app(tmp_path)
    runner = app.test_cli_runner()
    for username, name in NEWCOMERS:
        for args in (
            ["users", "create", username, "--password", "liveroom-student", "--display-name", name],
            ["channels", "add-member", "Biology 101", username, "--role", "member"],
        ):
            result = runner.invoke(args=args)
            assert result.exit_code == 0, result.output
    with serve(app) as url:
        yield app, url


def heard(page: Page) -> list[str]:
    return page.evaluate("() => window.__heard.slice()")


def wait_to_hear(page: Page, pattern: str) -> list[str]:
    """Wait until the live region has said something matching ``pattern``."""
    page.wait_for_function(
        "(p) => window.__heard.some((text) => new RegExp(p).test(text))",
        arg=pattern,
        timeout=DEADLINE_MS,
    )
    return heard(page)


def enter(page: Page, button: str) -> None:
    open_link(page, "Biology 101")
    page.get_by_role("button", name=button).click()
    expect(page.locator(".room-panel[data-me]")).to_be_visible(timeout=DEADLINE_MS)
    page.evaluate(RECORD)


def arrive_together(app, usernames: list[str]) -> None:
    """Several pupils enter Biology 101's meeting in one transaction, as a class does
    when the bell rings: one burst for the hub."""
    with app.app_context():
        session = db.session.scalar(sa.select(LiveSession).where(LiveSession.ended_at.is_(None)))
        for username in usernames:
            user = db.session.scalar(sa.select(User).where(User.username == username))
            stay = Participation(
                session_id=session.id, user_id=user.id, room_role=RoomRole.PARTICIPANT
            )
            db.session.add(stay)
            db.session.flush()
            events.append(
                session.room_id,
                Kind.PARTICIPANT_JOINED,
                session.id,
                user_id=user.id,
                participation_id=stay.id,
                role="participant",
            )
        db.session.commit()


def set_own(app, username: str, **values: object) -> None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == username))
        for name, value in values.items():
            setattr(user, name, value)
        db.session.commit()


def test_the_teacher_hears_chat_hands_and_arrivals_and_nobody_hears_their_own(browser, school):
    app, url = school
    teacher = log_in(browser, url, "teacher", "liveroom-teacher")
    enter(teacher, "Start Meeting")
    sam = log_in(browser, url, "student1", "liveroom-student")
    enter(sam, "Join Meeting")
    wait_to_hear(teacher, r"^Sam Lee joined\.$")

    sam.get_by_role("textbox", name="Message").fill("Good morning! Page 42?")
    sam.get_by_role("textbox", name="Message").press("Enter")
    wait_to_hear(teacher, r"^Sam Lee: Good morning! Page 42\?$")

    sam.get_by_role("button", name="Raise hand").click()
    wait_to_hear(teacher, r"^Sam Lee raised their hand\.$")

    # Three at once: one sentence counting them, not three names.
    before = len(heard(teacher))
    arrive_together(app, ["student3", "student4", "student5"])
    said = wait_to_hear(teacher, r"^3 people joined\.$")[before:]
    assert said == ["3 people joined."], said

    # The teacher answers: Sam hears it; the teacher does not hear their own message,
    # and Sam never heard his own message or his own hand.
    teacher.get_by_role("textbox", name="Message").fill("Yes, page 42.")
    teacher.get_by_role("textbox", name="Message").press("Enter")
    wait_to_hear(sam, r"^Maria Rivera: Yes, page 42\.$")
    assert not any("Good morning" in text for text in heard(sam)), heard(sam)
    assert "Sam Lee joined." not in heard(sam), "nobody hears of their own entry"
    assert not any("raised their hand" in text for text in heard(sam)), "participants: no hands"
    assert not any("Yes, page 42" in text for text in heard(teacher)), heard(teacher)
    # The room's one polite live region: the chat log, the hands, the waiting room and
    # the media notices are not live themselves.
    assert teacher.locator("#meeting [aria-live], #meeting [role='status']").count() == 0
    expect(teacher.locator("#meeting-announcer")).to_have_attribute("aria-live", "polite")


def test_a_category_turned_off_is_not_announced(browser, school):
    app, url = school
    set_own(app, "teacher", announcements_off="chat")
    teacher = log_in(browser, url, "teacher", "liveroom-teacher")
    enter(teacher, "Start Meeting")
    sam = log_in(browser, url, "student1", "liveroom-student")
    enter(sam, "Join Meeting")
    wait_to_hear(teacher, r"^Sam Lee joined\.$")
    sam.get_by_role("textbox", name="Message").fill("Is anyone there?")
    sam.get_by_role("textbox", name="Message").press("Enter")
    chat = teacher.get_by_role("list", name="Chat messages")
    expect(chat.get_by_text("Is anyone there?")).to_be_visible(timeout=DEADLINE_MS)
    # Then something the teacher does hear, after the message: the message was skipped.
    sam.get_by_role("button", name="Raise hand").click()
    said = wait_to_hear(teacher, r"^Sam Lee raised their hand\.$")
    assert not any("Is anyone there" in text for text in said), said


def focused(page: Page) -> str:
    """What has the keyboard focus: its accessible text (read, never moved)."""
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          if (!el) return "";
          const label = el.labels && el.labels.length ? el.labels[0].textContent : "";
          return (el.getAttribute("aria-label") || label || el.textContent || "").trim();
        }"""
    )


def tab_to(page: Page, name: str, limit: int = 80) -> None:
    """Press Tab until the focus is on the control named ``name``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == name:
            return
    raise AssertionError(f"{name!r} was not reached with Tab")


def test_a_meeting_run_with_the_keyboard_alone(browser, school):
    app, url = school
    teacher = log_in(browser, url, "teacher", "liveroom-teacher")
    open_link(teacher, "Biology 101")
    tab_to(teacher, "Start Meeting")
    teacher.keyboard.press("Enter")
    expect(teacher.get_by_text("You are an instructor")).to_be_visible(timeout=DEADLINE_MS)
    # The Start button went with the swap: the focus lands on the room's heading once
    # the panel has settled (and its controls are wired), not on the top of the page.
    expect(teacher.get_by_role("heading", name="Biology 101", level=2)).to_be_focused()

    # Alt+Shift+M: the first time, the device check opens; Tab to "Turn on", Enter.
    teacher.keyboard.press("Alt+Shift+KeyM")
    dialog = teacher.get_by_role("dialog", name="Check your microphone and camera")
    expect(dialog).to_be_visible()
    tab_to(teacher, "Turn on")
    teacher.keyboard.press("Enter")
    microphone = teacher.get_by_role("button", name="Microphone", exact=True)
    expect(microphone).to_have_attribute("aria-pressed", "true", timeout=DEADLINE_MS)

    sam = log_in(browser, url, "student1", "liveroom-student")
    open_link(sam, "Biology 101")
    tab_to(sam, "Join Meeting")
    sam.keyboard.press("Enter")
    expect(sam.get_by_text("You are a participant")).to_be_visible(timeout=DEADLINE_MS)
    sam.evaluate(RECORD)
    # The teacher's tile says who it is and their state.
    tile = sam.get_by_role("list", name="People on the stage").get_by_role("listitem")
    expect(tile).to_have_attribute(
        "aria-label", re.compile(r"^Maria Rivera, microphone on, camera off"), timeout=DEADLINE_MS
    )

    # Alt+Shift+H raises the hand (and says so: the button has no focus), the teacher sees it.
    sam.keyboard.press("Alt+Shift+KeyH")
    expect(sam.locator("#my-hand")).to_have_attribute("aria-pressed", "true", timeout=DEADLINE_MS)
    wait_to_hear(sam, r"^Your hand is raised\.$")
    hands = teacher.get_by_role("region", name="Raised hands")
    expect(hands.get_by_role("listitem").filter(has_text="Sam Lee")).to_be_visible(
        timeout=DEADLINE_MS
    )

    # Alt+Shift+C goes to the chat box; Enter sends and the focus stays there.
    sam.keyboard.press("Alt+Shift+KeyC")
    expect(sam.get_by_role("textbox", name="Message")).to_be_focused()
    sam.keyboard.type("Ready when you are.")
    sam.keyboard.press("Enter")
    chat = teacher.get_by_role("list", name="Chat messages")
    expect(chat.get_by_text("Ready when you are.")).to_be_visible(timeout=DEADLINE_MS)
    expect(sam.get_by_role("textbox", name="Message")).to_be_focused()
    expect(sam.get_by_role("textbox", name="Message")).to_have_value("")

    # Lowering the hand by its button (Tab, Space): the focus stays on the button after
    # the stream replaced it.
    tab_to(sam, "Lower my hand")
    sam.keyboard.press("Space")
    hand = sam.locator("#my-hand")
    expect(hand).to_have_attribute("aria-pressed", "false", timeout=DEADLINE_MS)
    expect(hand).to_be_focused()


def test_the_shortcuts_dialog_lists_them_and_switching_them_off_stops_them(browser, school):
    app, url = school
    teacher = log_in(browser, url, "teacher", "liveroom-teacher")
    enter(teacher, "Start Meeting")
    sam = log_in(browser, url, "student1", "liveroom-student")
    enter(sam, "Join Meeting")

    leave = sam.get_by_role("button", name="Leave")
    tab_to(sam, "Leave")
    sam.keyboard.press("?")
    dialog = sam.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    rows = dialog.get_by_role("row")
    expect(rows.filter(has_text="Turn your microphone on or off")).to_contain_text("Alt+Shift+M")
    expect(rows.filter(has_text="Raise or lower your hand")).to_contain_text("Alt+Shift+H")
    expect(dialog.get_by_role("link", name=re.compile("screen readers announce"))).to_be_visible()
    sam.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(leave).to_be_focused()

    # Typing "?" in the chat box types it.
    sam.keyboard.press("Alt+Shift+KeyC")
    sam.keyboard.type("Why?")
    expect(dialog).to_be_hidden()
    expect(sam.get_by_role("textbox", name="Message")).to_have_value("Why?")

    # Off, from the dialog (Tab to the box, Space): saved, and the keys do nothing.
    sam.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    tab_to(sam, "Keyboard shortcuts on")
    sam.keyboard.press("Space")
    expect(sam.locator("#room-prefs")).to_have_attribute(
        "data-shortcuts", "off", timeout=DEADLINE_MS
    )
    sam.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    with app.app_context():
        assert (
            db.session.scalar(sa.select(User.shortcuts_on).where(User.username == "student1"))
            is False
        )
    tab_to(sam, "Leave")
    sam.keyboard.press("Alt+Shift+KeyH")
    sam.keyboard.press("?")
    expect(dialog).to_be_hidden()
    # Had Alt+Shift+H raised the hand, this press would lower it again.
    sam.get_by_role("button", name="Raise hand").click()
    expect(sam.locator("#my-hand")).to_have_attribute("aria-pressed", "true", timeout=DEADLINE_MS)
    with app.app_context():
        stay = db.session.scalar(
            sa.select(Participation)
            .join(User, Participation.user_id == User.id)
            .where(User.username == "student1", Participation.left_at.is_(None))
        )
        assert stay.hand_raised_at is not None


@pytest.mark.parametrize(
    ("language", "direction", "side"), [("en", "ltr", "right"), ("ar", "rtl", "left")]
)
def test_the_side_column_mirrors_in_arabic(browser, school, language, direction, side):
    app, url = school
    teacher = log_in(
        browser, url, "teacher", "liveroom-teacher", viewport={"width": 1280, "height": 800}
    )
    set_own(app, "teacher", locale=language)  # their own choice, from now on
    teacher.goto("/channels/")
    expect(teacher.locator("html")).to_have_attribute("dir", direction)
    open_link(teacher, "Biology 101")
    teacher.locator("#start-meeting").click()
    expect(teacher.locator(".room-panel[data-me]")).to_be_visible(timeout=DEADLINE_MS)
    stage = teacher.locator("#room-area-stage").bounding_box()
    column = teacher.locator("#room-area-chat").bounding_box()
    if side == "left":
        assert column["x"] + column["width"] <= stage["x"] + 1, (column, stage)
    else:
        assert column["x"] >= stage["x"] + stage["width"] - 1, (column, stage)
