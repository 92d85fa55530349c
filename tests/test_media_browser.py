"""Audio, video and screen sharing between real browsers: Chromium with its fake
camera and microphone, three people in a mesh on two real gunicorn workers.

What the browsers receive is read from WebRTC's own statistics (``getStats()``): video
frames decoded keep growing, audio energy keeps growing, and they stop when an
instructor mutes someone or turns a camera off. The server's side of each rule has
its own tests in tests/test_media.py.
"""

from __future__ import annotations

import re

import pytest
import requests

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from liveroom.media.rules import MESH_PUBLISHERS  # noqa: E402
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, log_in, open_link  # noqa: E402
from tests.waiting import wait_until  # noqa: E402
from tests.workers import DEMO_PASSWORDS, Gunicorn  # noqa: E402

# Media servers and browsers: the PostgreSQL run of `make test` only.
pytestmark = [pytest.mark.browser, pytest.mark.media_server]

MEDIA_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--autoplay-policy=no-user-gesture-required",
]
# Media takes its time on a busy two-core machine; the waits end as soon as it is there.
MEDIA_DEADLINE = 45

# Per remote person (user id): frames decoded on the camera and screen sections, audio
# energy received, and what this page itself sent (audio packets, video frames).
STATS = """async () => {
  const room = window.LiveroomMedia && window.LiveroomMedia.current();
  if (!room) return null;
  const out = {peers: {}, sentAudio: 0, sentVideo: 0, connections: 0};
  for (const peer of await room.backend.stats()) {
    const seen = {camera: 0, screen: 0, audio: 0, width: 0};
    out.connections += 1;
    for (const row of peer.rows) {
      if (row.type === "inbound-rtp" && row.kind === "video") {
        const key = row.mid === "2" ? "screen" : "camera";
        seen[key] += row.framesDecoded || 0;
        if (key === "screen") seen.width = Math.max(seen.width, row.frameWidth || 0);
      }
      if (row.type === "inbound-rtp" && row.kind === "audio") seen.audio += row.totalAudioEnergy || 0;
      if (row.type === "outbound-rtp" && row.kind === "audio") out.sentAudio += row.packetsSent || 0;
      if (row.type === "outbound-rtp" && row.kind === "video") out.sentVideo += row.framesEncoded || 0;
    }
    out.peers[peer.uid] = seen;
  }
  return out;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = Gunicorn(tmp_path_factory.mktemp("media"))
    yield server
    server.stop()


@pytest.fixture
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=MEDIA_ARGS)
        yield browser
        browser.close()


def stats(page: Page) -> dict:
    return page.evaluate(STATS)


def user_id(server: Gunicorn, username: str) -> str:
    return str(server.scalar('SELECT id FROM "user" WHERE username = :u', u=username))


def enter(page: Page, button: str) -> None:
    open_link(page, "Biology 101")
    page.get_by_role("button", name=button).click()
    expect(page.locator("#stage")).to_be_visible()


def turn_on_camera_and_microphone(page: Page) -> None:
    """The first time: the preview dialog, then "Turn on"; the microphone after it."""
    page.get_by_role("button", name="Camera", exact=True, pressed=False).click()
    dialog = page.get_by_role("dialog", name="Check your microphone and camera")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("button", name="Camera", exact=True, pressed=True)).to_be_visible()
    page.get_by_role("button", name="Microphone", exact=True, pressed=False).click()
    expect(page.get_by_role("button", name="Microphone", exact=True, pressed=True)).to_be_visible()


def growing(page: Page, uid: str, key: str) -> bool:
    """Whether what ``page`` receives from ``uid`` on ``key`` grows between two reads."""
    before = (stats(page) or {"peers": {}})["peers"].get(uid, {}).get(key, 0)
    page.wait_for_timeout(700)
    after = (stats(page) or {"peers": {}})["peers"].get(uid, {}).get(key, 0)
    return after > before


def stopped(page: Page, uid: str, key: str) -> bool:
    """Whether it stopped growing (a few frames in flight may still land)."""
    return not growing(page, uid, key) and not growing(page, uid, key)


def menu_action(page: Page, name: str, action: str) -> None:
    people = page.get_by_role("region", name=re.compile("In the room"))
    row = people.get_by_role("listitem").filter(has_text=name)
    row.locator("summary").click()
    row.get_by_role("button", name=action).click()


def test_three_people_see_and_hear_each_other_and_the_teacher_runs_the_stage(server, browser):
    base = server.base
    teacher = log_in(browser, base, "teacher", DEMO_PASSWORDS["teacher"])
    enter(teacher, "Start Meeting")
    sam = log_in(browser, base, "student1", DEMO_PASSWORDS["student1"])
    enter(sam, "Join Meeting")
    priya = log_in(browser, base, "student2", DEMO_PASSWORDS["student2"])
    enter(priya, "Join Meeting")
    pages = {"teacher": teacher, "student1": sam, "student2": priya}
    ids = {name: user_id(server, name) for name in pages}
    for page in pages.values():
        turn_on_camera_and_microphone(page)

    # Each receives the other two's video and audio, and keeps receiving them.
    for name, page in pages.items():
        for other in pages:
            if other == name:
                continue
            assert wait_until(
                lambda p=page, o=other: growing(p, ids[o], "camera"), MEDIA_DEADLINE
            ), f"{name} receives no video from {other}"
            assert wait_until(
                lambda p=page, o=other: growing(p, ids[o], "audio"), MEDIA_DEADLINE
            ), f"{name} receives no audio from {other}"
    expect(sam.locator(f'.tile[data-uid="{ids["teacher"]}"] video.tile__video')).to_be_visible()

    # The teacher mutes Sam: his own page stops sending audio, every list says so.
    menu_action(teacher, "Sam Lee", "Mute microphone")
    expect(sam.get_by_role("button", name="Microphone", exact=True, pressed=False)).to_be_visible()
    expect(sam.get_by_text("An instructor muted your microphone.")).to_be_visible()
    for page in pages.values():
        row = (
            page.get_by_role("region", name=re.compile("In the room"))
            .get_by_role("listitem")
            .filter(has_text="Sam Lee")
        )
        expect(row).to_contain_text(re.compile("microphone off", re.I))
    sent = stats(sam)["sentAudio"]
    sam.wait_for_timeout(1500)
    assert stats(sam)["sentAudio"] - sent < 5, "Sam's page kept sending audio"
    assert wait_until(lambda: stopped(priya, ids["student1"], "audio"), MEDIA_DEADLINE)

    # Strong: nobody unmutes; a forged request from Sam's page is refused by the server.
    teacher.once("dialog", lambda dialog: dialog.accept())
    teacher.get_by_role("button", name="Mute all, no unmuting").click()
    expect(sam.locator("[data-media-notice]")).to_have_text(
        "An instructor muted everyone. Raise your hand to ask to speak."
    )
    forged = sam.evaluate(
        """async () => {
          const room = window.LiveroomMedia.current();
          const response = await fetch(room.config.state_url, {method: "POST",
            headers: {"Accept": "text/plain",
              "X-CSRFToken": JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"]},
            body: new URLSearchParams({session: room.config.session, kind: "mic", on: "1"})});
          return [response.status, await response.text()];
        }"""
    )
    assert forged[0] == 403 and "muted" in forged[1]

    # Camera off by the teacher: Priya's video stops at everyone.
    menu_action(teacher, "Priya Patel", "Turn camera off")
    expect(priya.get_by_role("button", name="Camera", exact=True, pressed=False)).to_be_visible()
    for page in (teacher, sam):
        # No video of hers on the stage (with nothing else on, she leaves it).
        expect(page.locator(f'.tile--camera[data-uid="{ids["student2"]}"]')).to_have_count(0)
        assert wait_until(lambda p=page: stopped(p, ids["student2"], "camera"), MEDIA_DEADLINE)

    # The teacher shares the screen: the others receive it as a 1280-wide video track.
    teacher.get_by_role("button", name="Share screen", exact=True, pressed=False).click()
    expect(
        teacher.get_by_role("button", name="Share screen", exact=True, pressed=True)
    ).to_be_visible()
    for page in (sam, priya):
        assert wait_until(lambda p=page: growing(p, ids["teacher"], "screen"), MEDIA_DEADLINE)
        assert stats(page)["peers"][ids["teacher"]]["width"] == 1280
        expect(page.locator(f'.tile[data-uid="{ids["teacher"]}"]')).to_have_class(
            re.compile(r"\btile--screen\b")
        )

    # Priya is removed: her connections close, her tile goes everywhere.
    teacher.once("dialog", lambda dialog: dialog.accept())
    menu_action(teacher, "Priya Patel", "Remove from room")
    assert wait_until(
        lambda: (stats(priya) or {"connections": 0})["connections"] == 0, MEDIA_DEADLINE
    )
    for page in (teacher, sam):
        expect(page.locator(f'.tile[data-uid="{ids["student2"]}"]')).to_have_count(0)
        assert wait_until(
            lambda p=page: ids["student2"] not in (stats(p) or {"peers": {}})["peers"],
            MEDIA_DEADLINE,
        )

    # Sam reloads: his new page sends nothing yet, and the room says so (he starts muted).
    sam.reload()
    expect(sam.get_by_role("button", name="Camera", exact=True, pressed=False)).to_be_visible()
    sam_row = (
        teacher.get_by_role("region", name=re.compile("In the room"))
        .get_by_role("listitem")
        .filter(has_text="Sam Lee")
    )
    expect(sam_row).to_contain_text(re.compile("camera off", re.I))


def test_the_seventh_publisher_is_told_the_meeting_needs_the_media_server(server, browser):
    # Six others publish (HTTP clients: the server decides who may, not the browsers).
    names = [f"pupil{n}" for n in range(MESH_PUBLISHERS - 1)]
    for name in names:
        server.add_member(name, "liveroom-pupil")
    teacher = server.login("teacher")
    room = server.biology_room(teacher)
    teacher.post(f"{server.base}/rooms/{room}/end")
    started = teacher.post(f"{server.base}/rooms/{room}/start")
    session = re.search(r"session=(\d+)", started.text).group(1)
    on = {"session": session, "kind": "camera", "on": "1"}
    assert teacher.post(f"{server.base}/rooms/{room}/media/state", data=on).status_code == 204
    clients: list[requests.Session] = []
    for name in names:
        client = server.login(name, "liveroom-pupil")
        client.post(f"{server.base}/rooms/{room}/join")
        response = client.post(f"{server.base}/rooms/{room}/media/state", data=on)
        assert response.status_code == 204, response.text
        clients.append(client)

    sam = log_in(browser, server.base, "student1", DEMO_PASSWORDS["student1"])
    enter(sam, "Join Meeting")
    sam.get_by_role("button", name="Camera", exact=True, pressed=False).click()
    sam.get_by_role("dialog").get_by_role("button", name="Turn on").click()
    expect(sam.locator("[data-media-notice]")).to_contain_text("media server")
    expect(sam.get_by_role("button", name="Camera", exact=True, pressed=False)).to_be_visible()
    # Chat and the rest keep working.
    sam.get_by_role("textbox", name="Message").fill("I can still write")
    sam.keyboard.press("Enter")
    expect(sam.locator("#chat-log")).to_contain_text("I can still write")


def test_a_second_tab_says_the_microphone_and_camera_went_off_in_another_tab(tmp_path, browser):
    """Opening the room in a second tab starts it muted, which turns the first tab's
    microphone and camera off: the first tab says so, and does not blame an
    instructor."""
    own = Gunicorn(tmp_path)
    try:
        teacher = log_in(browser, own.base, "teacher", DEMO_PASSWORDS["teacher"])
        enter(teacher, "Start Meeting")
        first = log_in(browser, own.base, "student1", DEMO_PASSWORDS["student1"])
        enter(first, "Join Meeting")
        turn_on_camera_and_microphone(first)
        second = first.context.new_page()
        second.goto(first.url)
        expect(second.locator("#stage")).to_be_visible()
        notice = first.locator("[data-media-notice]")
        expect(notice).to_have_text(
            "Your microphone and camera were turned off in another tab or window of this room."
        )
        expect(
            first.get_by_role("button", name="Microphone", exact=True, pressed=False)
        ).to_be_visible()
        expect(notice).not_to_contain_text("instructor")
    finally:
        own.stop()
