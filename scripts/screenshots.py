"""Screenshots of every page and meeting state, at desktop and phone width.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]

Runs a throwaway server with the demo data and writes PNGs (default:
test-artifacts/screenshots). Also refreshes docs/screenshot-room.png for the README.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live_server import CHROMIUM, CHROMIUM_ARGS, demo_app, log_in, serve  # noqa: E402

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# Chromium's fake camera and microphone, allowed without asking: the stage's shots.
FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "test-artifacts" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(app := demo_app(Path(tmp))) as base,
        sync_playwright() as pw,
    ):
        assembly = large_class(app, people=80, channels=70)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MEDIA)
        for size_name, viewport in SIZES.items():

            def shot(
                page: Page, name: str, size_name: str = size_name, full_page: bool = True
            ) -> None:
                page.screenshot(path=out / f"{name}-{size_name}.png", full_page=full_page)

            def login(username: str, password: str, viewport: dict = viewport) -> Page:
                return log_in(browser, base, username, password, viewport=viewport)

            anon = browser.new_context(base_url=base, viewport=viewport).new_page()
            anon.goto("/login")
            shot(anon, "01-login")
            anon.get_by_label("Username").fill("teacher")
            anon.get_by_label("Password").fill("wrong")
            anon.get_by_role("button", name="Log in").click()
            shot(anon, "02-login-error")
            # Another account, so that the teacher is not the one locked out here.
            anon.get_by_label("Username").fill("guess")
            for _ in range(11):  # ten failures, then the eleventh try is refused
                anon.get_by_label("Password").fill("still wrong")
                anon.get_by_role("button", name="Log in").click()
            shot(anon, "02b-login-throttled")

            teacher = login("teacher", "liveroom-teacher")
            shot(teacher, "03-channels")
            teacher.locator("summary", has_text="open user menu").click()
            shot(teacher, "04-user-menu")
            teacher.keyboard.press("Escape")
            student = login("student1", "liveroom-student")
            student.get_by_role("link", name="Biology 101").click()
            shot(student, "05-channel-member-idle")
            student.get_by_role("button", name="Join Meeting").click()
            expect(
                student.get_by_role(
                    "heading", name="Waiting for the instructor to start this meeting"
                )
            ).to_be_visible()
            shot(student, "06-waiting")

            teacher.goto("/channels/1")
            shot(teacher, "07-channel-manager-idle")
            teacher.get_by_role("button", name="Start Meeting").click()
            expect(teacher.get_by_text("You are an instructor")).to_be_visible()
            expect(student.get_by_text("You are a participant")).to_be_visible(timeout=4000)
            show_tab(student, "Chat")
            show_tab(teacher, "Chat")
            student.get_by_role("textbox", name="Message").fill(
                "Good morning! Is it page 42 today?"
            )
            student.get_by_role("textbox", name="Message").press("Enter")
            teacher.get_by_role("textbox", name="Message").fill(
                "Yes: page 42, exercise 3. Notes at https://example.org/biology/cells"
            )
            teacher.get_by_role("button", name="Send").click()
            show_tab(student, "Stage")
            student.get_by_role("button", name="Raise hand").click()
            show_tab(teacher, "People")
            expect(
                teacher.get_by_role("region", name="Raised hands")
                .get_by_role("listitem")
                .filter(has_text="Sam Lee")
            ).to_be_visible()
            teacher.wait_for_timeout(300)
            shot(teacher, "08-panel-instructor")
            if size_name == "desktop":
                teacher.locator("#meeting").screenshot(path=ROOT / "docs" / "screenshot-room.png")
            shot(student, "09-panel-participant")
            show_tab(teacher, "Stage")
            stage_shots(teacher, student, shot, size_name)
            show_tab(teacher, "People")
            teacher.get_by_role("button", name="Lock room").click()
            expect(teacher.get_by_role("button", name="Unlock room")).to_be_visible()
            newcomer = login("student2", "liveroom-student")
            newcomer.get_by_role("link", name="Biology 101").click()
            newcomer.get_by_role("button", name="Join Meeting").click()
            expect(newcomer.get_by_role("heading", name="The room is locked")).to_be_visible()
            shot(newcomer, "09b-waiting-room-participant")
            expect(teacher.get_by_role("button", name="Admit Priya Patel")).to_be_visible()
            shot(teacher, "09c-waiting-room-instructor")
            teacher.get_by_role("button", name="Admit Priya Patel").click()
            expect(newcomer.get_by_text("You are a participant")).to_be_visible()
            row = (
                teacher.get_by_role("region", name=re.compile("In the room"))
                .get_by_role("listitem")
                .filter(has_text="Priya Patel")
            )
            row.locator("summary").click()
            shot(teacher, "09d-person-menu")
            teacher.keyboard.press("Escape")
            sam_row = (
                teacher.get_by_role("region", name=re.compile("In the room"))
                .get_by_role("listitem")
                .filter(has_text="Sam Lee")
            )
            sam_row.locator("summary").click()
            sam_row.get_by_role("button", name="Set as moderator").click()
            expect(student.get_by_text("You are a moderator")).to_be_visible(timeout=6000)
            shot(student, "09f-panel-moderator")
            shot(teacher, "09g-people-staff-and-moderator")
            row.locator("summary").click()
            teacher.once("dialog", lambda d: d.accept())
            row.get_by_role("button", name="Remove from room").click()
            expect(
                newcomer.get_by_role("heading", name="You were removed from this meeting")
            ).to_be_visible()
            shot(newcomer, "09e-removed")
            teacher.once("dialog", lambda d: d.accept())
            teacher.get_by_role("button", name="End meeting for everyone").click()
            expect(student.get_by_role("heading", name="This meeting has ended")).to_be_visible(
                timeout=4000
            )
            shot(student, "10-ended")

            teacher.goto("/my-rooms")
            shot(teacher, "11-my-rooms")
            teacher.get_by_role("link", name="+ New Room").click()
            teacher.get_by_role("button", name="Create room").click()
            shot(teacher, "12-new-room-error")
            teacher.get_by_label("Room name").fill(f"Algebra catch-up {size_name}")
            teacher.get_by_role("button", name="Create room").click()
            expect(teacher.get_by_text(re.compile(r"Room .* created\."))).to_be_visible()
            shot(teacher, "13-room-created")
            teacher.get_by_role("button", name="Office hours", exact=True).click()
            expect(teacher.get_by_text("You are an instructor")).to_be_visible()
            shot(teacher, "14-private-room-launched")
            teacher.once("dialog", lambda d: d.accept())
            teacher.get_by_role("button", name="End meeting for everyone").click()
            teacher.goto("/channels/1")
            teacher.get_by_role("link", name="Past meetings and attendance").click()
            shot(teacher, "14b-attendance-index")
            teacher.get_by_role("link", name=re.compile("Attendance")).first.click()
            shot(teacher, "14c-attendance")

            admin = login("admin", "liveroom-admin")
            admin.goto("/admin/settings")
            shot(admin, "15-admin-settings")

            # Five tabs of one person: a sixth displaces the oldest.
            teacher.goto("/channels/1")
            teacher.get_by_role("button", name="Start Meeting").click()
            expect(teacher.get_by_text("You are an instructor")).to_be_visible()
            student.goto("/channels/1")
            student.get_by_role("button", name="Join Meeting").click()
            expect(student.get_by_text("You are a participant")).to_be_visible(timeout=6000)
            tabs = [student.context.new_page() for _ in range(5)]
            for tab in tabs:
                tab.goto("/channels/1")
                expect(tab.get_by_text("You are a participant")).to_be_visible(timeout=6000)
            expect(
                student.get_by_role("heading", name="This room is open in another tab")
            ).to_be_visible(timeout=10000)
            shot(student, "15b-open-in-another-tab")
            for tab in tabs:
                tab.close()

            # The admin turns live rooms off during the meeting.
            admin.get_by_label(re.compile("Live Room module")).uncheck()
            admin.get_by_role("button", name="Save settings").click()
            expect(
                teacher.get_by_text("Live rooms were turned off by the site's administrator").first
            ).to_be_visible(timeout=8000)
            shot(teacher, "15c-turned-off")
            admin.get_by_label(re.compile("Live Room module")).check()
            admin.get_by_role("button", name="Save settings").click()
            expect(teacher.get_by_role("button", name="Start Meeting")).to_be_visible(timeout=8000)
            student.goto("/channels/2")
            shot(student, "16-channel-contributor")
            student.goto("/admin/settings")
            shot(student, "17-forbidden")

            # A whole year group in one meeting: the top of the list, the count, and
            # everyone on demand. And an admin's channel list, a page at a time.
            teacher.goto(f"/channels/{assembly}")
            teacher.get_by_role("button", name="Start Meeting").click()
            expect(teacher.get_by_text("You are an instructor")).to_be_visible()
            join_everyone(app, assembly)
            expect(teacher.locator("#people-count")).to_have_text("81", timeout=15000)
            show_tab(teacher, "People")
            shot(teacher, "18-large-class")
            teacher.get_by_text(re.compile("Show everyone")).click()
            everyone = teacher.locator("#people-everyone-list .person__name")
            expect(everyone.filter(has_text="Pupil 079")).to_be_visible()
            shot(teacher, "18b-large-class-everyone")
            teacher.once("dialog", lambda dialog: dialog.accept())
            teacher.get_by_role("button", name="End meeting for everyone").click()
            admin.goto("/channels/")
            shot(admin, "19-all-channels-paged")
        browser.close()
    print(f"Screenshots in {out}")


def show_tab(page: Page, name: str) -> None:
    """On a phone the room's stage, chat and people are tabs: show ``name``'s."""
    # By the width, not by whether the tabs show yet: a panel just swapped in gets its
    # tab roles a moment later (static/js/room-tabs.js), and the click waits for them.
    if page.viewport_size["width"] <= SIZES["phone"]["width"]:
        page.get_by_role("tablist", name="Room").get_by_role("tab", name=name).click()


def stage_shots(teacher: Page, student: Page, shot, size_name: str) -> None:  # noqa: ANN001
    """The stage: the device dialog before a first camera, the teacher's camera and the
    pupil's microphone on the stage, the speaker layout, and a phone's tabs. Everything
    is turned off again at the end, so the shots after these see the room as before."""
    phone = size_name == "phone"
    bar = teacher.get_by_role("toolbar", name="Your microphone, camera and screen")
    camera = bar.get_by_role("button", name="Camera", exact=True)  # aria-pressed: on or off
    camera.click()
    dialog = teacher.get_by_role("dialog", name="Check your microphone and camera")
    expect(dialog).to_be_visible()
    teacher.wait_for_timeout(1200)  # the preview's first frames and the level
    shot(teacher, "20-device-dialog", full_page=False)  # a modal covers the window only
    dialog.get_by_role("button", name="Turn on").click()
    expect(camera).to_have_attribute("aria-pressed", "true", timeout=8000)
    student_bar = student.get_by_role("toolbar", name="Your microphone, camera and screen")
    microphone = student_bar.get_by_role("button", name="Microphone", exact=True)
    microphone.click()
    student.get_by_role("dialog", name="Check your microphone and camera").get_by_role(
        "button", name="Turn on"
    ).click()
    expect(microphone).to_have_attribute("aria-pressed", "true", timeout=8000)
    tiles = teacher.get_by_role("list", name="People on the stage").get_by_role("listitem")
    expect(tiles).to_have_count(2, timeout=8000)
    expect(
        student.get_by_role("list", name="People on the stage").get_by_role("listitem")
    ).to_have_count(2, timeout=8000)
    teacher.wait_for_timeout(2500)  # the connection, and the first remote frames
    shot(teacher, "21-stage-instructor")
    shot(student, "22-stage-participant")
    student.get_by_role("group", name="Layout").get_by_role("button", name="Speaker").click()
    student.wait_for_timeout(300)
    shot(student, "23-stage-speaker-layout")
    student.get_by_role("group", name="Layout").get_by_role("button", name="Grid").click()
    if phone:
        tabs = teacher.get_by_role("tablist", name="Room")
        tabs.get_by_role("tab", name="Chat").click()
        shot(teacher, "24-phone-tab-chat")
        tabs.get_by_role("tab", name="People").click()
        shot(teacher, "25-phone-tab-people")
        tabs.get_by_role("tab", name="Stage").click()
    camera.click()
    microphone.click()
    expect(tiles).to_have_count(0, timeout=8000)


def large_class(app, people: int, channels: int) -> int:  # noqa: ANN001  (a Flask app)
    """An "Assembly" channel whose Manager is the demo teacher, with ``people`` pupils,
    and ``channels`` more channels so an admin's list has pages. Returns its id."""
    from liveroom.extensions import db
    from liveroom.models import Channel, Membership, User
    from liveroom.roles import AppRole, ChannelRole
    from liveroom.rooms import meetings
    from tests.conftest import FAST_HASH

    with app.app_context():
        teacher = db.session.scalar(db.select(User).where(User.username == "teacher"))
        assembly = Channel(name="Assembly", description="The whole year group.")
        db.session.add(assembly)
        assembly.memberships.append(Membership(user=teacher, role=ChannelRole.MANAGER))
        for n in range(people):
            pupil = User(
                username=f"pupil{n:03}",
                display_name=f"Pupil {n:03}",
                role=AppRole.VIEWER,
                password_hash=FAST_HASH,
            )
            assembly.memberships.append(Membership(user=pupil, role=ChannelRole.MEMBER))
        meetings.channel_room(assembly)
        for n in range(channels):
            extra = Channel(name=f"Elective {n:02}", description="")
            db.session.add(extra)
            db.session.flush()
            meetings.channel_room(extra)
        db.session.commit()
        return assembly.id


def join_everyone(app, channel_id: int) -> None:  # noqa: ANN001  (a Flask app)
    """Every pupil of the channel clicks Join Meeting (test clients on the same app)."""
    from liveroom.extensions import db
    from liveroom.models import Channel
    from tests.conftest import PASSWORD

    with app.app_context():
        channel = db.session.get(Channel, channel_id)
        room = channel.room.public_id
        usernames = [m.user.username for m in channel.memberships if m.user.username != "teacher"]
    token = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
    for username in usernames:
        client = app.test_client()
        login_token = token.search(client.get("/login").get_data(as_text=True)).group(1)
        client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": login_token},
        )
        page_token = token.search(client.get(f"/channels/{channel_id}").get_data(as_text=True))
        client.post(
            f"/rooms/{room}/join",
            headers={"HX-Request": "true", "X-CSRFToken": page_token.group(1)},
        )


if __name__ == "__main__":
    main()
