"""Real browsers: Debian's Chromium driven by Playwright, against a real server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import demo_app, log_in, open_link, serve

pytestmark = pytest.mark.browser

# The page changes by itself. The issue promises within 3 seconds; bench/ measures how
# fast (sse_bench.py), and tests only give up after a deadline no busy machine reaches.
PAGE_UPDATE_DEADLINE_MS = 15_000


def test_teacher_starts_student_waiting_enters_both_see_each_other_then_it_ends(browser, base_url):
    student = log_in(browser, base_url, "student1", "liveroom-student")
    open_link(student, "Biology 101")
    student.get_by_role("button", name="Join Meeting").click()
    expect(
        student.get_by_role("heading", name="Waiting for the instructor to start this meeting")
    ).to_be_visible()
    student_url = student.url

    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    open_link(teacher, "Biology 101")
    channel_url = teacher.url
    teacher.get_by_role("button", name="Start Meeting").click()
    expect(teacher.get_by_text("You are an instructor")).to_be_visible()
    assert teacher.url == channel_url, "the room opens within the page"

    # The student's waiting state turns into the room without a reload.
    expect(student.get_by_text("You are a participant")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    assert student.url == student_url
    student_list = student.get_by_role("region", name=re.compile("In the room"))
    expect(student_list.get_by_role("listitem").filter(has_text="Maria Rivera")).to_be_visible()
    expect(student_list.get_by_role("listitem").filter(has_text="Sam Lee")).to_be_visible()
    teacher_list = teacher.get_by_role("region", name=re.compile("In the room"))
    expect(teacher_list.get_by_role("listitem").filter(has_text="Sam Lee")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )

    teacher.once("dialog", lambda dialog: dialog.accept())
    teacher.get_by_role("button", name="End meeting for everyone").click()
    expect(teacher.get_by_role("heading", name="This meeting has ended")).to_be_visible()
    expect(student.get_by_role("heading", name="This meeting has ended")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )


def test_channel_button_turns_live_by_itself(browser, base_url):
    student = log_in(browser, base_url, "student2", "liveroom-student")
    open_link(student, "Biology 101")
    expect(student.get_by_role("heading", name="No meeting right now")).to_be_visible()
    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    open_link(teacher, "Biology 101")
    teacher.get_by_role("button", name="Start Meeting").click()
    expect(teacher.get_by_text("You are an instructor")).to_be_visible()
    expect(student.get_by_role("heading", name="A meeting is in progress")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )


def test_my_rooms_shows_live_by_itself_when_a_room_starts_elsewhere(browser, base_url):
    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    teacher.goto(f"{base_url}/my-rooms")
    open_link(teacher, "+ New Room")
    teacher.get_by_label("Room name").fill("Office hours")
    teacher.get_by_label("Room name").press("Enter")
    row = teacher.get_by_role("listitem").filter(has_text="Office hours")
    expect(row).to_be_visible()
    expect(row.get_by_text("Live", exact=True)).to_have_count(0)
    room_url = row.get_by_role("textbox").input_value()
    # The same teacher starts it from its link in another tab.
    other_tab = teacher.context.new_page()
    other_tab.goto(room_url)
    other_tab.get_by_role("button", name="Start Meeting").click()
    expect(other_tab.get_by_text("You are an instructor")).to_be_visible()
    expect(row.get_by_text("Live", exact=True)).to_be_visible(timeout=PAGE_UPDATE_DEADLINE_MS)
    other_tab.once("dialog", lambda dialog: dialog.accept())
    other_tab.get_by_role("button", name="End meeting for everyone").click()
    expect(row.get_by_text("Live", exact=True)).to_have_count(0, timeout=PAGE_UPDATE_DEADLINE_MS)


def test_my_rooms_by_keyboard_new_room_and_launch_within_the_page(browser, base_url):
    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    # The user drop-down opens from the keyboard.
    teacher.locator("summary", has_text="open user menu").focus()
    teacher.keyboard.press("Enter")
    teacher.keyboard.press("Tab")
    expect(teacher.get_by_role("link", name="My Rooms")).to_be_focused()
    teacher.keyboard.press("Enter")
    expect(teacher.get_by_role("heading", name="My Rooms")).to_be_visible()

    open_link(teacher, "+ New Room")
    name = teacher.get_by_label("Room name")
    expect(name).to_be_focused()
    teacher.get_by_role("button", name="Create room").click()
    expect(teacher.get_by_text("Enter a name for the room.")).to_be_visible()
    name.fill("Algebra catch-up")
    name.press("Enter")
    room_button = teacher.get_by_role("button", name="Algebra catch-up", exact=True)
    expect(room_button).to_be_visible()
    my_rooms_url = teacher.url

    room_button.click()
    expect(teacher.get_by_text("You are an instructor")).to_be_visible()
    expect(teacher.get_by_role("heading", name="Algebra catch-up", level=2)).to_be_visible()
    assert re.search(r"/rooms/[\w-]+$", teacher.url), "the room's own URL, to share"
    assert teacher.url != my_rooms_url
    share_link = teacher.get_by_label("Invite people with this link").input_value()
    assert share_link == teacher.url

    # Anyone signed in who opens the link joins as a participant.
    student = log_in(browser, base_url, "student1", "liveroom-student")
    student.goto(share_link)
    expect(student.get_by_text("You are a participant")).to_be_visible()
    teacher_list = teacher.get_by_role("region", name=re.compile("In the room"))
    expect(teacher_list.get_by_role("listitem").filter(has_text="Sam Lee")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )


def test_pages_load_no_resource_from_outside_and_break_no_csp(browser, base_url):
    page = log_in(browser, base_url, "teacher", "liveroom-teacher")
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on(
        "request",
        lambda req: problems.append(req.url) if not req.url.startswith(base_url) else None,
    )
    for path in ["/channels/", "/channels/1", "/my-rooms", "/my-rooms/new"]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
    assert problems == []


@pytest.fixture
def class_url(tmp_path):
    """The demo, plus a third student who has not been in the room yet."""
    app = demo_app(tmp_path)
    runner = app.test_cli_runner()
    for args in (
        [
            "users",
            "create",
            "student3",
            "--password",
            "liveroom-student",
            "--display-name",
            "Noor Newcomer",
        ],
        ["channels", "add-member", "Biology 101", "student3", "--role", "member"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with serve(app) as url:
        yield url


def enter_biology(page: Page, button: str) -> None:
    open_link(page, "Biology 101")
    page.get_by_role("button", name=button).click()


def test_a_live_class_chat_hands_removal_lock_admission_and_end(browser, class_url):
    teacher = log_in(browser, class_url, "teacher", "liveroom-teacher")
    enter_biology(teacher, "Start Meeting")
    expect(teacher.get_by_text("You are an instructor")).to_be_visible()
    sam = log_in(browser, class_url, "student1", "liveroom-student")
    enter_biology(sam, "Join Meeting")
    priya = log_in(browser, class_url, "student2", "liveroom-student")
    enter_biology(priya, "Join Meeting")
    expect(priya.get_by_text("You are a participant")).to_be_visible()
    people = teacher.get_by_role("region", name=re.compile("In the room"))
    expect(people.get_by_role("listitem").filter(has_text="Priya Patel")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )

    # Chat both ways: Enter sends.
    sam.get_by_role("textbox", name="Message").fill("Good morning! Page 42?")
    sam.get_by_role("textbox", name="Message").press("Enter")
    teacher_chat = teacher.get_by_role("list", name="Chat messages")
    expect(teacher_chat.get_by_text("Good morning! Page 42?")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    expect(sam.get_by_role("textbox", name="Message")).to_have_value("")
    teacher.get_by_role("textbox", name="Message").fill("Yes, page 42, exercise 3.")
    teacher.get_by_role("button", name="Send").click()
    sam_chat = sam.get_by_role("list", name="Chat messages")
    expect(sam_chat.get_by_text("Yes, page 42, exercise 3.")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    expect(
        priya.get_by_role("list", name="Chat messages").get_by_text("exercise 3")
    ).to_be_visible()

    # A raised hand is seen by the instructor.
    sam.get_by_role("button", name="Raise hand").click()
    expect(sam.get_by_role("button", name="Lower my hand")).to_be_visible()
    hands = teacher.get_by_role("region", name="Raised hands")
    expect(hands.get_by_role("listitem").filter(has_text="Sam Lee")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )

    # The instructor removes a participant; she is told, and leaves everyone's list.
    priya_row = people.get_by_role("listitem").filter(has_text="Priya Patel")
    priya_row.locator("summary", has_text="Actions for Priya Patel").click()
    teacher.once("dialog", lambda dialog: dialog.accept())
    priya_row.get_by_role("button", name="Remove from room").click()
    expect(priya.get_by_role("heading", name="You were removed from this meeting")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    expect(people.get_by_role("listitem").filter(has_text="Priya Patel")).to_have_count(0)

    # Locked: a newcomer waits and is admitted.
    teacher.get_by_role("button", name="Lock room").click()
    expect(teacher.get_by_role("button", name="Unlock room")).to_be_visible()
    noor = log_in(browser, class_url, "student3", "liveroom-student")
    enter_biology(noor, "Join Meeting")
    expect(noor.get_by_role("heading", name="The room is locked")).to_be_visible()
    waiting = teacher.get_by_role("region", name=re.compile("Waiting room"))
    waiting.get_by_role("button", name="Admit Noor Newcomer").click()
    expect(noor.get_by_text("You are a participant")).to_be_visible(timeout=PAGE_UPDATE_DEADLINE_MS)
    expect(people.get_by_role("listitem").filter(has_text="Noor Newcomer")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )

    # The end, for everyone.
    teacher.once("dialog", lambda dialog: dialog.accept())
    teacher.get_by_role("button", name="End meeting for everyone").click()
    for page in (teacher, sam, noor):
        expect(page.get_by_role("heading", name="This meeting has ended")).to_be_visible(
            timeout=PAGE_UPDATE_DEADLINE_MS
        )


def test_chat_survives_a_dropped_connection(browser, class_url):
    teacher = log_in(browser, class_url, "teacher", "liveroom-teacher")
    enter_biology(teacher, "Start Meeting")
    sam = log_in(browser, class_url, "student1", "liveroom-student")
    enter_biology(sam, "Join Meeting")
    expect(sam.get_by_text("You are a participant")).to_be_visible()
    sam.context.set_offline(True)
    teacher.get_by_role("textbox", name="Message").fill("Sent while Sam was offline")
    teacher.get_by_role("button", name="Send").click()
    expect(
        teacher.get_by_role("list", name="Chat messages").get_by_text("while Sam")
    ).to_be_visible()
    sam.context.set_offline(False)
    expect(
        sam.get_by_role("list", name="Chat messages").get_by_text("Sent while Sam was offline")
    ).to_be_visible(timeout=10_000)


def test_user_menu_closes_with_escape_and_returns_focus(browser, base_url):
    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    toggle = teacher.locator("summary", has_text="open user menu")
    toggle.focus()
    teacher.keyboard.press("Enter")
    expect(teacher.get_by_role("link", name="My Rooms")).to_be_visible()
    teacher.keyboard.press("Tab")
    teacher.keyboard.press("Escape")
    expect(teacher.get_by_role("link", name="My Rooms")).to_be_hidden()
    expect(toggle).to_be_focused()


# --- The meeting's life: times in the viewer's zone, waiting through a reload, the
# module switch, attendance on a phone ----------------------------------------------


def new_york_time(iso: str) -> str:
    """How a New Yorker's browser (en-US) writes the UTC moment ``iso``: "04:16 AM"."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo("America/New_York")).strftime("%I:%M %p")


def test_a_teacher_in_new_york_sees_new_york_times(browser, base_url):
    teacher = log_in(
        browser,
        base_url,
        "teacher",
        "liveroom-teacher",
        timezone_id="America/New_York",
        locale="en-US",
    )
    enter_biology(teacher, "Start Meeting")
    started = teacher.locator(".room-panel__header time")
    iso = started.get_attribute("datetime")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", iso), "valid HTML: no microseconds"
    local = new_york_time(iso)
    assert local[:2] != iso[11:13], "New York is 4 or 5 hours behind UTC"
    expect(started).to_have_text(re.compile(re.escape(local) + r" E[SD]T"))

    # A chat message that arrives through the stream is shown in New York time too.
    teacher.get_by_role("textbox", name="Message").fill("What time is it?")
    teacher.get_by_role("button", name="Send").click()
    said = teacher.get_by_role("list", name="Chat messages").locator("time").last
    expect(said).to_have_text(new_york_time(said.get_attribute("datetime")))


def test_waiting_pupil_reloads_and_still_enters_when_the_meeting_starts(browser, base_url):
    sam = log_in(browser, base_url, "student1", "liveroom-student")
    enter_biology(sam, "Join Meeting")
    waiting = sam.get_by_role("heading", name="Waiting for the instructor to start this meeting")
    expect(waiting).to_be_visible()
    sam.reload()
    expect(waiting).to_be_visible()

    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    enter_biology(teacher, "Start Meeting")
    expect(sam.get_by_text("You are a participant")).to_be_visible(timeout=PAGE_UPDATE_DEADLINE_MS)


def test_pupil_reloads_in_the_waiting_room_and_enters_when_admitted(browser, class_url):
    teacher = log_in(browser, class_url, "teacher", "liveroom-teacher")
    enter_biology(teacher, "Start Meeting")
    teacher.get_by_role("button", name="Lock room").click()
    expect(teacher.get_by_role("button", name="Unlock room")).to_be_visible()

    noor = log_in(browser, class_url, "student3", "liveroom-student")
    enter_biology(noor, "Join Meeting")
    locked = noor.get_by_role("heading", name="The room is locked")
    expect(locked).to_be_visible()
    noor.reload()
    expect(locked).to_be_visible()
    expect(noor.get_by_role("button", name="Join Meeting")).to_have_count(0)

    waiting = teacher.get_by_role("region", name=re.compile("Waiting room"))
    waiting.get_by_role("button", name="Admit Noor Newcomer").click()
    expect(noor.get_by_text("You are a participant")).to_be_visible(timeout=PAGE_UPDATE_DEADLINE_MS)


@pytest.fixture
def school(tmp_path):
    """The demo app and its URL: the test flips settings the way an admin would."""
    app = demo_app(tmp_path)
    with serve(app) as url:
        yield app, url


def test_turning_live_rooms_off_and_on_while_pages_are_open(browser, school):
    app, url = school
    teacher = log_in(browser, url, "teacher", "liveroom-teacher")
    enter_biology(teacher, "Start Meeting")
    sam = log_in(browser, url, "student1", "liveroom-student")
    enter_biology(sam, "Join Meeting")
    expect(sam.get_by_text("You are a participant")).to_be_visible()
    priya = log_in(browser, url, "student2", "liveroom-student")
    open_link(priya, "Biology 101")
    expect(priya.get_by_role("heading", name="A meeting is in progress")).to_be_visible()

    switch = app.test_cli_runner()
    assert switch.invoke(args=["settings", "set", "liveRoomEnabled", "false"]).exit_code == 0
    turned_off = "Live rooms were turned off by the site's administrator."
    for page in (teacher, sam, priya):
        expect(page.get_by_role("heading", name=turned_off)).to_be_visible(timeout=10_000)
        expect(page.get_by_text("Not found")).to_have_count(0)
    expect(teacher.get_by_role("link", name="See who attended")).to_be_visible()

    assert switch.invoke(args=["settings", "set", "liveRoomEnabled", "true"]).exit_code == 0
    for page in (teacher, sam, priya):
        expect(page.get_by_role("heading", name="No meeting right now")).to_be_visible(
            timeout=10_000
        )
    expect(teacher.get_by_role("button", name="Start Meeting")).to_be_visible()
    expect(sam.get_by_role("button", name="Join Meeting")).to_be_visible()


def test_attendance_reads_well_on_a_phone(browser, base_url):
    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    enter_biology(teacher, "Start Meeting")
    sam = log_in(browser, base_url, "student1", "liveroom-student")
    open_link(sam, "Biology 101")
    for _ in range(2):  # two stays
        sam.get_by_role("button", name="Join Meeting").click()
        expect(sam.get_by_text("You are a participant")).to_be_visible()
        sam.get_by_role("button", name="Leave").click()
    teacher.once("dialog", lambda dialog: dialog.accept())
    teacher.get_by_role("button", name="End meeting for everyone").click()
    attendance_url = teacher.get_by_role("link", name="See who attended").get_attribute("href")

    phone = log_in(
        browser,
        base_url,
        "teacher",
        "liveroom-teacher",
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        timezone_id="Europe/Paris",
    )
    phone.goto(attendance_url)
    sam_row = phone.get_by_role("row").filter(has_text="Sam Lee")
    expect(sam_row).to_contain_text("2 stays")
    # Each value carries its column's name, since the phone layout stacks the cells.
    minutes = sam_row.locator('td[data-label="Minutes present"]')
    assert minutes.evaluate("td => getComputedStyle(td, '::before').content") == '"Minutes present"'
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "nothing is cut off or scrolls sideways"
    )
    sam_row.locator("summary").focus()
    phone.keyboard.press("Enter")
    expect(sam_row.get_by_role("listitem")).to_have_count(2)
    phone.screenshot(path="/tmp/liveroom-attendance-390.png", full_page=True)
