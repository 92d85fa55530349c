"""An admin brings a class in from a spreadsheet, in a real browser: the import's
preview and apply, a pupil's first log-in with a temporary password, a meeting, and
the pupil's deactivation taking them out of it at once. Screenshots of the import
pages (desktop and phone) go to the test's folder, or to docs/ for the admin guide
with LIVEROOM_DOCS_SCREENSHOTS=1."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import log_in, open_link

pytestmark = pytest.mark.browser

PAGE_UPDATE_DEADLINE_MS = 15_000
DOCS = Path(__file__).resolve().parent.parent / "docs"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True}
CLASS_SIZE = 30


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where screenshots go: docs/ when asked to refresh the guide's, else nowhere kept."""
    return DOCS if os.environ.get("LIVEROOM_DOCS_SCREENSHOTS") == "1" else tmp_path


def pupils() -> list[tuple[str, str]]:
    return [(f"pupil{n:02}", f"Pupil {n:02} Lindqvist") for n in range(1, CLASS_SIZE + 1)]


def class_files(folder: Path) -> tuple[Path, Path]:
    users = folder / "class-7b.csv"
    # As a spreadsheet saves it: a byte order mark, semicolons, Windows line ends.
    lines = ["username;display_name;role"] + [f"{u};{name};Viewer" for u, name in pupils()]
    users.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    members = folder / "class-7b-biology.csv"
    rows = ["channel,username,channel_role"] + [f"Biology 101,{u},Member" for u, _ in pupils()]
    members.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return users, members


def import_file(page: Page, kind: str, file: Path, expected: str, shot: Path | None = None) -> None:
    page.goto("/admin/import")
    page.get_by_role("radio", name=kind).check()
    page.get_by_label("CSV file").set_input_files(str(file))
    page.get_by_role("button", name="Preview import").click()
    expect(page.get_by_role("status").filter(has_text=expected)).to_be_visible()
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    page.get_by_role("button", name="Apply import").click()
    expect(page.get_by_role("heading", name="Import done")).to_be_visible()


def test_admin_imports_a_class_a_pupil_joins_and_is_deactivated_out_of_the_meeting(
    browser, base_url, tmp_path, shots
):
    users_file, members_file = class_files(tmp_path)
    admin = log_in(browser, base_url, "admin", "liveroom-admin", viewport=DESKTOP)

    # 1. The class of 30, previewed then applied.
    preview_shot = shots / "admin-import-preview-desktop.png"
    import_file(admin, "Users", users_file, "30 to create, 0 to change, 0 unchanged.", preview_shot)
    expect(admin.get_by_text("30 created, 0 changed, 0 unchanged.")).to_be_visible()
    passwords = admin.get_by_role("table", name="Temporary passwords of the new accounts")
    expect(passwords.get_by_role("row")).to_have_count(CLASS_SIZE + 1)
    admin.screenshot(path=str(shots / "admin-import-result-desktop.png"))
    temporary = passwords.get_by_role("row").filter(has_text="pupil01").locator("code").inner_text()
    with admin.expect_download() as download:
        admin.get_by_role("button", name="Download temporary passwords (CSV)").click()
    handout = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert handout[0] == "username,display_name,temporary_password"
    assert f"pupil01,Pupil 01 Lindqvist,{temporary}" in handout
    assert len(handout) == CLASS_SIZE + 1

    # ... and the class into Biology 101, where the demo teacher starts a meeting.
    import_file(admin, "Channel members", members_file, "30 to create")
    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    open_link(teacher, "Biology 101")
    teacher.get_by_role("button", name="Start Meeting").click()
    expect(teacher.get_by_text("You are an instructor")).to_be_visible()

    # 2. The pupil's first log-in: the temporary password, then one of their own.
    pupil = browser.new_context(base_url=base_url).new_page()
    pupil.goto("/login")
    pupil.get_by_label("Username").fill("pupil01")
    pupil.get_by_label("Password").fill(temporary)
    pupil.get_by_role("button", name="Log in").click()
    expect(pupil.get_by_role("heading", name="Choose a new password")).to_be_visible()
    pupil.get_by_label("Current password").fill(temporary)
    pupil.get_by_label("New password", exact=True).fill("otters hold hands asleep")
    pupil.get_by_label("New password again").fill("otters hold hands asleep")
    pupil.get_by_role("button", name="Change password").click()
    expect(pupil.get_by_role("heading", name="My channels")).to_be_visible()
    open_link(pupil, "Biology 101")
    pupil.get_by_role("button", name="Join Meeting").click()
    expect(pupil.get_by_text("You are a participant")).to_be_visible()
    people = teacher.get_by_role("region", name=re.compile("In the room"))
    in_room = people.get_by_role("listitem").filter(has_text="Pupil 01 Lindqvist")
    expect(in_room).to_be_visible(timeout=PAGE_UPDATE_DEADLINE_MS)

    # 3. The admin deactivates the pupil: out of the meeting at once.
    admin.goto("/admin/users")
    admin.get_by_role("link", name="Pupil 01 Lindqvist").click()
    admin.on("dialog", lambda dialog: dialog.accept())
    admin.get_by_role("button", name="Deactivate").click()
    expect(admin.get_by_text("pupil01 is deactivated")).to_be_visible()
    expect(pupil.get_by_role("heading", name="Log in to Liveroom")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    expect(pupil.get_by_text("You are a participant")).to_have_count(0)
    expect(in_room).to_have_count(0, timeout=PAGE_UPDATE_DEADLINE_MS)


def test_import_pages_on_a_phone_and_by_keyboard(browser, base_url, tmp_path, shots):
    users_file, _ = class_files(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("username,display_name,role\nava,Ava,bossRole\nava,Ava again,\n")
    phone = log_in(browser, base_url, "admin", "liveroom-admin", **PHONE)
    phone.goto("/admin/import")
    phone.screenshot(path=str(shots / "admin-import-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "nothing scrolls sideways on a phone"
    )
    # By keyboard: the file field, then the button.
    phone.get_by_label("CSV file").set_input_files(str(bad))
    phone.get_by_label("CSV file").focus()
    phone.keyboard.press("Tab")
    expect(phone.get_by_role("button", name="Preview import")).to_be_focused()
    phone.keyboard.press("Enter")
    expect(phone.get_by_text("2 lines with errors")).to_be_visible()
    expect(phone.get_by_text("unknown role 'bossRole'")).to_be_visible()
    expect(phone.get_by_text("'ava' is already on line 2")).to_be_visible()
    expect(phone.get_by_role("button", name="Apply import")).to_have_count(0)
    phone.screenshot(path=str(shots / "admin-import-errors-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
