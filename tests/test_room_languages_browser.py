"""The room's scripts speak the page's language: words they build (a private message's
recipient, a media toggle's name) come from the catalogue the page loads."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.live_server import CHROMIUM_ARGS, chromium, log_in, open_link

pytestmark = pytest.mark.browser

PAGE_UPDATE_DEADLINE_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Browser:
    with chromium([*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream"]) as launched:
        yield launched


@pytest.mark.parametrize(
    ("language", "start", "privately", "microphone", "two_new"),
    [
        ("es", "Iniciar reunión", "En privado a Sam Lee", "Micrófono", "2 mensajes nuevos"),
        ("ar", "بدء الاجتماع", "على انفراد إلى Sam Lee", "الميكروفون", "رسالتان جديدتان"),
    ],
)
def test_the_rooms_scripts_speak_the_teachers_language(
    browser, base_url, language, start, privately, microphone, two_new
):
    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    # From here on the browser asks for the room in this language (Accept-Language).
    teacher.context.set_extra_http_headers({"Accept-Language": language})
    open_link(teacher, "Biology 101")
    assert teacher.locator("html").get_attribute("lang") == language
    teacher.get_by_role("button", name=start).click()

    student = log_in(browser, base_url, "student1", "liveroom-student")
    open_link(student, "Biology 101")
    student.get_by_role("button", name="Join Meeting").click()
    expect(student.get_by_text("You are a participant")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )

    # Built by room.js when the people list changes: "Privately to Sam Lee".
    recipient = teacher.locator("#chat-to option", has_text="Sam Lee")
    expect(recipient).to_have_text(privately, timeout=PAGE_UPDATE_DEADLINE_MS)
    # Named by the media script as it draws its controls.
    toggle = teacher.locator("[data-media-toggle='mic'] [data-label]")
    expect(toggle).to_have_text(microphone)
    # The catalogue arrived in this language, count-bearing sentences in its forms.
    assert teacher.evaluate("LiveroomStrings.ready") is True
    said = teacher.evaluate("LiveroomStrings.say('newMessages', {n: 2})")
    assert said.startswith(two_new)
