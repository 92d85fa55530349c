"""Accessibility in real browsers, in every language the site speaks.

Every page and every state of the room is drawn in English, Spanish and Arabic and
checked with axe-core (npm, test-only: package.json's devDependencies) against the
WCAG 2.0, 2.1 and 2.2 A and AA rules: no violation anywhere. Each page also says its
language (``<html lang>``) and its direction (``dir``: right to left in Arabic), and in
Arabic the room mirrors: the column of chat and people sits left of the stage.

One server and one browser serve the whole module; each person signs in once per
language, in a browser profile of their own whose Accept-Language is that language
(Playwright's ``locale``). A test walks through many pages and states, collects what
axe finds on each and fails at the end naming every page, state and language that
has a problem, with axe's rule id, impact, elements and help.

The pages are found by address and element ids, never by their words, which change
with the language.
"""

from __future__ import annotations

import functools
import re
import threading
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from liveroom.cli import DEMO_PASSWORDS
from tests.live_server import CHROMIUM_ARGS, chromium, demo_app, serve

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGUAGES = ["en", "es", "ar"]
DIRECTIONS = {"en": "ltr", "es": "ltr", "ar": "rtl"}
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 320, "height": 640}  # WCAG 1.4.10: reflow at 320 CSS pixels
PASSWORDS = {**DEMO_PASSWORDS, "student3": "liveroom-student"}
# The page changes by itself (the live stream); a busy machine never takes this long.
DEADLINE_MS = 15_000
MEDIA_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]

# Two frames later: what a resize sets off (media query listeners, layout) is done.
FRAMES = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
# axe's findings on the whole document, reduced to what a failure message needs.
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags}, resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 6).map((node) => node.target.join(" ")),
    more: Math.max(0, v.nodes.length - 6),
  }));
}"""


class AxeFiles(SimpleHTTPRequestHandler):
    """axe-core's folder, cacheable: Chromium then keeps the script compiled between
    pages, where a script put in by its text is parsed again on every page."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "public, max-age=3600")
        super().end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def axe_url() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make setup` (npm ci installs axe-core)")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(AxeFiles, directory=str(AXE.parent))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{AXE.name}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Browser:
    """Chromium with fake camera and microphone (the shared fixture has none)."""
    with chromium(MEDIA_ARGS) as launched:
        yield launched


class School:
    """The demo school served for the module (``prepare``d): its address and the ids
    the pages' addresses need."""

    def __init__(self, app, url: str):
        from liveroom.models import Channel, Room, User

        self.app = app
        self.url = url
        with app.app_context():
            from liveroom.extensions import db

            def one(model, **where):
                return db.session.scalars(sa.select(model).filter_by(**where)).one()

            self.biology = one(Channel, name="Biology 101").id
            self.chemistry = one(Channel, name="Chemistry 202").id
            self.biology_room = one(Room, channel_id=self.biology).public_id
            self.chemistry_room = one(Room, channel_id=self.chemistry).public_id
            self.office_hours = one(Room, name="Office hours").public_id
            self.sam = one(User, username="student1").id


def prepare(app) -> None:
    """The demo plus a newcomer for the waiting room and a past meeting with a message
    deleted for everyone (for the admin's deleted messages page)."""
    runner = app.test_cli_runner()
    for args in (
        ["users", "create", "student3", "--password", PASSWORDS["student3"]]
        + ["--display-name", "Noor Newcomer"],
        ["channels", "add-member", "Biology 101", "student3", "--role", "member"],
    ):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    with app.app_context():
        from liveroom.extensions import db
        from liveroom.models import Channel, ChatMessage, LiveSession, Room, User, utcnow

        teacher = db.session.scalars(sa.select(User).filter_by(username="teacher")).one()
        sam = db.session.scalars(sa.select(User).filter_by(username="student1")).one()
        chemistry = db.session.scalars(sa.select(Channel).filter_by(name="Chemistry 202")).one()
        room = db.session.scalars(sa.select(Room).filter_by(channel_id=chemistry.id)).one()
        ended = utcnow() - timedelta(days=1)
        past = LiveSession(
            room_id=room.id,
            started_by_id=teacher.id,
            started_at=ended - timedelta(hours=1),
            ended_at=ended,
            ended_by_id=teacher.id,
            end_reason="ended",
        )
        db.session.add(past)
        db.session.flush()
        db.session.add(
            ChatMessage(
                session_id=past.id,
                author_id=sam.id,
                body="A message the teacher deleted",
                created_at=ended - timedelta(minutes=30),
                deleted_at=ended - timedelta(minutes=29),
                deleted_by_id=teacher.id,
            )
        )
        db.session.commit()


@pytest.fixture(scope="module")
def school(tmp_path_factory) -> School:
    app = demo_app(tmp_path_factory.mktemp("accessibility"))
    prepare(app)
    with serve(app) as url:
        yield School(app, url)


class Audit:
    """What axe finds on each page and state checked in one language."""

    def __init__(self, language: str, axe_url: str):
        self.language = language
        self.axe_url = axe_url
        self.problems: list[str] = []

    def check(self, page: Page, what: str) -> None:
        where = f"[{self.language}] {what} ({page.url})"
        page.wait_for_load_state("load")
        lang, direction = page.evaluate(
            "() => [document.documentElement.lang, document.documentElement.dir]"
        )
        if lang != self.language:
            self.problems.append(f"{where}: <html lang> is {lang!r}, not {self.language!r}")
        if direction != DIRECTIONS[self.language]:
            self.problems.append(f"{where}: <html dir> is {direction!r}")
        # Nothing cut off or scrolling sideways (a mirrored layout can push out), at
        # the page's width and at 320 px.
        wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if wide > 0:
            self.problems.append(f"{where}: the page scrolls sideways by {wide}px")
        size = page.viewport_size
        page.set_viewport_size(NARROW)
        page.evaluate(FRAMES)
        wide = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        page.set_viewport_size(size)
        # The scripts that follow the width (the room's tabs) hear of it by the next frame.
        page.evaluate(FRAMES)
        if wide > 0:
            self.problems.append(
                f"{where}: {NARROW['width']}px wide, the page scrolls sideways by {wide}px"
            )
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.add_script_tag(url=self.axe_url)
        for found in page.evaluate(AXE_RUN, AXE_TAGS):
            targets = "; ".join(found["targets"])
            if found["more"]:
                targets += f"; and {found['more']} more"
            self.problems.append(
                f"{where}: {found['id']} ({found['impact']}) at {targets}: {found['help']}"
            )

    def assert_clean(self) -> None:
        assert not self.problems, f"{len(self.problems)} accessibility problems:\n" + "\n".join(
            self.problems
        )


class People:
    """Everyone signed in once per language, each in a browser profile of their own."""

    def __init__(self, browser: Browser, url: str):
        self.browser = browser
        self.url = url
        self.pages: dict[tuple[str, str], Page] = {}

    def page(self, language: str, username: str) -> Page:
        key = (language, username)
        if key not in self.pages:
            self.pages[key] = sign_in(self.context(language), username)
        return self.pages[key]

    def context(self, language: str, **options):
        # bypass_csp: axe is put into the page as a script from another address, which
        # the app's Content-Security-Policy (script-src 'self') would refuse; these
        # tests only.
        return self.browser.new_context(
            base_url=self.url,
            locale=language,
            bypass_csp=True,
            viewport=DESKTOP,
            **options,
        )

    def park(self, language: str) -> None:
        """Leave every room and live page of ``language`` (a page left in a meeting's
        ended state would take its person back into the next language's meeting)."""
        for (lang, _), page in self.pages.items():
            if lang == language:
                page.goto("about:blank")


def sign_in(context, username: str) -> Page:
    page = context.new_page()
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORDS[username])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/channels/$"))
    return page


@pytest.fixture(scope="module")
def people(browser, school) -> People:
    return People(browser, school.url)


@pytest.fixture
def audit(request, people, axe_url) -> Audit:
    language = request.node.callspec.params["language"]
    yield Audit(language, axe_url)
    people.park(language)


def visit(page: Page, path: str, status: int = 200) -> None:
    response = page.goto(path)
    got = response.status if response is not None else None
    assert got == status, f"{path} answered {got}, not {status}"
    page.wait_for_load_state("load")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_passes_axe(browser, school, people, audit, language):
    # Signed out: the log-in page, and it again with a refused log-in.
    stranger = people.context(language).new_page()
    visit(stranger, "/login")
    audit.check(stranger, "log-in page")
    stranger.locator("#username").fill("nobody-here")
    stranger.locator("#password").fill("not the password")
    stranger.locator("main form button[type=submit]").click()
    expect(stranger.locator("#login-error")).to_be_visible()
    audit.check(stranger, "log-in page, refused")
    stranger.context.close()

    sam = people.page(language, "student1")
    audit.check(sam, "channel list (a member)")
    visit(sam, f"/channels/{school.biology}")
    expect(sam.locator("#join-meeting")).to_be_visible()
    audit.check(sam, "channel page, a Member with Join Meeting")
    visit(sam, f"/rooms/{school.office_hours}")
    audit.check(sam, "a room link page (someone else's room, not started)")
    visit(sam, "/no-such-page", status=404)
    audit.check(sam, "404 error page")
    visit(sam, "/admin/settings", status=403)
    audit.check(sam, "403 error page")

    teacher = people.page(language, "teacher")
    visit(teacher, f"/channels/{school.biology}")
    expect(teacher.locator("#start-meeting")).to_be_visible()
    audit.check(teacher, "channel page, a Manager with Start Meeting and the members")
    visit(teacher, f"/channels/{school.chemistry}")
    audit.check(teacher, "channel page, a Moderator")
    visit(teacher, f"/rooms/{school.chemistry_room}/attendance")
    audit.check(teacher, "past meetings of a channel")
    visit(teacher, "/my-rooms")
    audit.check(teacher, "My Rooms")
    visit(teacher, "/my-rooms/new")
    expect(teacher.locator("#room-name")).to_be_focused()
    audit.check(teacher, "My Rooms, + New Room form open")
    teacher.locator("#room-name").press("Enter")
    expect(teacher.locator("#room-name-error")).to_be_visible()
    audit.check(teacher, "My Rooms, + New Room refused (no name)")
    visit(teacher, "/account")
    audit.check(teacher, "Account")
    teacher.locator(".user-menu summary").click()
    expect(teacher.locator(".user-menu__panel")).to_be_visible()
    audit.check(teacher, "Account, user menu open")
    visit(teacher, "/account/password")
    audit.check(teacher, "change password")

    admin = people.page(language, "admin")
    audit.check(admin, "channel list (an admin)")
    for path, what in [
        ("/admin/settings", "admin: settings"),
        ("/admin/users", "admin: users"),
        (f"/admin/users/{school.sam}", "admin: one user"),
        ("/admin/users/new", "admin: new user"),
        ("/admin/channels", "admin: channels"),
        (f"/admin/channels/{school.biology}", "admin: one channel"),
        ("/admin/live", "admin: live now"),
        ("/admin/audit", "admin: audit log"),
        ("/admin/deleted-messages", "admin: deleted messages"),
        ("/admin/import", "admin: import"),
    ]:
        visit(admin, path)
        audit.check(admin, what)
    admin.locator("input[type=file]").set_input_files(
        files=[
            {
                "name": "class.csv",
                "mimeType": "text/csv",
                "buffer": b"username,display_name,role\npupil01,Pupil One,Viewer\n",
            }
        ]
    )
    admin.locator("main form[enctype] button[type=submit]").click()
    expect(admin.locator(".import-summary")).to_be_visible()
    audit.check(admin, "admin: import with a preview")
    audit.assert_clean()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_room_state_passes_axe(browser, school, people, audit, language):
    biology = f"/channels/{school.biology}"
    # A pupil waits for the meeting to start.
    sam = people.page(language, "student1")
    visit(sam, biology)
    sam.locator("#join-meeting").click()
    expect(sam.locator("#waiting-title")).to_be_visible()
    audit.check(sam, "room: waiting for the instructor")

    teacher = people.page(language, "teacher")
    visit(teacher, biology)
    teacher.locator("#start-meeting").click()
    expect(teacher.locator(".room-panel")).to_be_visible()
    expect(sam.locator(".room-panel")).to_be_visible(timeout=DEADLINE_MS)

    priya = people.page(language, "student2")
    visit(priya, biology)
    expect(priya.locator("#join-meeting")).to_be_visible()
    audit.check(priya, "channel page with a live meeting")
    priya.locator("#join-meeting").click()
    expect(priya.locator(".room-panel")).to_be_visible()

    # Chat and a raised hand.
    sam.locator("#chat-body").fill("Good morning! Page 42?")
    sam.locator("#chat-body").press("Enter")
    teacher.locator("#chat-body").fill("Yes, page 42, exercise 3.")
    teacher.locator("#chat-composer button[type=submit]").click()
    sam.locator("#my-hand").click()
    expect(sam.locator("#my-hand")).to_have_attribute("aria-pressed", "true")
    expect(teacher.locator("#hands-list li")).to_have_count(1, timeout=DEADLINE_MS)
    expect(teacher.locator("#chat-log li")).to_have_count(2, timeout=DEADLINE_MS)
    expect(teacher.locator("#people-list li")).to_have_count(3, timeout=DEADLINE_MS)
    audit.check(teacher, "room as instructor: people, chat, a raised hand")
    expect(sam.locator("#chat-log li")).to_have_count(2, timeout=DEADLINE_MS)
    audit.check(sam, "room as participant, hand raised")

    admin = people.page(language, "admin")
    visit(admin, "/admin/live")
    audit.check(admin, "admin: live now, a meeting on")

    # The keyboard shortcuts' dialog.
    teacher.locator("[data-open-shortcuts]").click()
    expect(teacher.locator("#shortcuts-dialog")).to_be_visible()
    audit.check(teacher, "room: the keyboard shortcuts dialog")
    teacher.keyboard.press("Escape")
    expect(teacher.locator("#shortcuts-dialog")).to_be_hidden()

    # Live captions: the instructor makes Sam the captioner, who types a line.
    sam_row = teacher.locator("#people-list li", has_text="Sam Lee")
    sam_row.locator("summary").click()
    sam_row.locator(".person-menu__panel button[hx-post*=captioner][hx-vals*='1']").click()
    expect(sam.locator("#caption-body")).to_be_visible(timeout=DEADLINE_MS)
    sam.locator("#caption-body").fill("Today: how cells divide.")
    sam.locator("#caption-body").press("Enter")
    expect(teacher.locator("#captions-log li")).to_have_count(1, timeout=DEADLINE_MS)
    audit.check(sam, "room: the captioner's composer")
    audit.check(teacher, "room as instructor: live captions")

    # On a phone the stage, chat and people are tabs.
    sam.set_viewport_size(PHONE)
    expect(sam.locator("[data-room-tabs]")).to_be_visible()
    audit.check(sam, "room as participant on a phone (tabs)")
    sam.locator("#room-tab-chat").click()
    expect(sam.locator("#chat-body")).to_be_visible()
    audit.check(sam, "room as participant on a phone, the chat tab")
    sam.set_viewport_size(DESKTOP)

    # The instructor's menu for a person, and a removal.
    priya_row = teacher.locator("#people-list li", has_text="Priya Patel")
    priya_row.locator("summary").click()
    expect(priya_row.locator(".person-menu__panel")).to_be_visible()
    audit.check(teacher, "room as instructor, a person's actions open")
    teacher.once("dialog", lambda dialog: dialog.accept())
    priya_row.locator(".person-menu__panel button.danger").click()
    expect(priya.locator("#removed-title")).to_be_visible(timeout=DEADLINE_MS)
    audit.check(priya, "room: removed from the meeting")

    # Locked, with someone waiting to be let in.
    teacher.locator("#lock-toggle").click()
    expect(teacher.locator("#lock-toggle")).to_have_attribute("aria-pressed", "true")
    noor = people.page(language, "student3")
    visit(noor, biology)
    noor.locator("#join-meeting").click()
    expect(noor.locator("#lobby-title")).to_be_visible()
    audit.check(noor, "room: locked, waiting to be let in")
    expect(teacher.locator("#waiting-list li")).to_have_count(1, timeout=DEADLINE_MS)
    audit.check(teacher, "room as instructor: locked, someone waiting")
    teacher.locator("#waiting-list button[hx-post*=deny]").click()
    expect(noor.locator("#denied-title")).to_be_visible(timeout=DEADLINE_MS)
    audit.check(noor, "room: not let in")

    # Media: the devices dialog, then the camera on (Chromium's fake camera).
    teacher.locator("[data-media-toggle=camera]").click()
    dialog = teacher.locator("[data-media-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#device-camera option").first).to_be_attached(timeout=DEADLINE_MS)
    audit.check(teacher, "room: the microphone and camera dialog")
    dialog.locator("[data-dialog-confirm]").click()
    expect(teacher.locator("[data-stage-tiles] video").first).to_be_visible(timeout=DEADLINE_MS)
    audit.check(teacher, "room as instructor, camera on")

    # The end, for everyone.
    teacher.once("dialog", lambda dialog: dialog.accept())
    teacher.locator("#end-meeting").click()
    expect(teacher.locator("#ended-title")).to_be_visible()
    audit.check(teacher, "room: the meeting ended (instructor)")
    expect(sam.locator("#ended-title")).to_be_visible(timeout=DEADLINE_MS)
    audit.check(sam, "room: the meeting ended (participant)")
    attendance = teacher.locator(".ended a[href*=attendance]")
    visit(teacher, attendance.get_attribute("href"))
    audit.check(teacher, "attendance of the meeting")
    audit.assert_clean()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_room_mirrors_in_arabic(school, people, language):
    """At desktop width the column of chat and people is beside the stage: right of it
    in English, left of it in Arabic; the user menu opens under its toggle, aligned to
    the toggle's outer side, and stays on the screen."""
    teacher = people.page(language, "teacher")
    visit(teacher, f"/rooms/{school.office_hours}")
    teacher.locator("#start-meeting").click()
    stage = teacher.locator("#room-area-stage")
    expect(stage).to_be_visible()
    try:
        stage_box = stage.bounding_box()
        for side in ("#room-area-chat", "#room-area-people"):
            box = teacher.locator(side).bounding_box()
            if language == "ar":
                assert box["x"] + box["width"] <= stage_box["x"] + 1, f"{side} is left of the stage"
            else:
                assert box["x"] >= stage_box["x"] + stage_box["width"] - 1, (
                    f"{side} is right of the stage"
                )

        toggle = teacher.locator(".user-menu summary")
        toggle.click()
        panel = teacher.locator(".user-menu__panel")
        expect(panel).to_be_visible()
        toggle_box, panel_box = toggle.bounding_box(), panel.bounding_box()
        if language == "ar":
            assert abs(panel_box["x"] - toggle_box["x"]) <= 1, "aligned to the toggle's left"
        else:
            toggle_end = toggle_box["x"] + toggle_box["width"]
            assert abs(panel_box["x"] + panel_box["width"] - toggle_end) <= 1, (
                "aligned to the toggle's right"
            )
        assert panel_box["x"] >= 0 and panel_box["x"] + panel_box["width"] <= DESKTOP["width"]
        teacher.keyboard.press("Escape")
    finally:
        teacher.once("dialog", lambda dialog: dialog.accept())
        teacher.locator("#end-meeting").click()
        expect(teacher.locator("#ended-title")).to_be_visible()
        people.park(language)
