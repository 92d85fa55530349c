"""Live captions in real browsers: the teacher names a pupil captioner from the people
list, the pupil types under the stage, and a classmate sees the line appear there."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.live_server import log_in, open_link

pytestmark = pytest.mark.browser

PAGE_UPDATE_DEADLINE_MS = 15_000


def enter_biology(page, button: str) -> None:
    open_link(page, "Biology 101")
    page.get_by_role("button", name=button).click()


def test_a_pupil_types_captions_and_a_classmate_sees_them_under_the_stage(browser, base_url):
    teacher = log_in(browser, base_url, "teacher", "liveroom-teacher")
    enter_biology(teacher, "Start Meeting")
    expect(teacher.get_by_text("You are an instructor")).to_be_visible()
    sam = log_in(browser, base_url, "student1", "liveroom-student")
    enter_biology(sam, "Join Meeting")
    priya = log_in(browser, base_url, "student2", "liveroom-student")
    enter_biology(priya, "Join Meeting")
    expect(priya.get_by_text("You are a participant")).to_be_visible()
    # Nobody captions yet: there is no captions area to see.
    expect(priya.get_by_role("log", name="Live captions")).to_be_hidden()

    people = teacher.get_by_role("region", name=re.compile("In the room"))
    sam_row = people.get_by_role("listitem").filter(has_text="Sam Lee")
    expect(sam_row).to_be_visible(timeout=PAGE_UPDATE_DEADLINE_MS)
    sam_row.locator("summary", has_text="Actions for Sam Lee").click()
    sam_row.get_by_role("button", name="Make captioner").click()

    # Everyone sees who writes the captions; Sam gets the composer under the stage.
    captions = priya.get_by_role("region", name="Live captions")
    expect(captions.get_by_text("Captions by Sam Lee")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    field = sam.get_by_role("textbox", name="Type the captions")
    expect(field).to_be_visible(timeout=PAGE_UPDATE_DEADLINE_MS)
    field.click()
    field.fill("Plants turn light into sugar.")
    field.press("Enter")
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    field.fill("That is photosynthesis.")
    field.press("Enter")

    log = priya.get_by_role("log", name="Live captions")
    expect(log.get_by_text("Plants turn light into sugar.")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    expect(log.get_by_text("That is photosynthesis.")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    expect(log.get_by_role("listitem")).to_have_count(2)
    # The area is under the stage, and the classmate has no composer.
    stage_box = priya.locator("#stage").bounding_box()
    captions_box = priya.locator("#captions").bounding_box()
    assert captions_box["y"] >= stage_box["y"] + stage_box["height"]
    expect(priya.get_by_role("textbox", name="Type the captions")).to_have_count(0)

    # The teacher stops the captions: Sam's composer goes, the lines stay.
    teacher.get_by_role("region", name="Live captions").get_by_role(
        "button", name="Stop captions"
    ).click()
    expect(field).to_have_count(0, timeout=PAGE_UPDATE_DEADLINE_MS)
    expect(captions.get_by_text("Captions have stopped.")).to_be_visible(
        timeout=PAGE_UPDATE_DEADLINE_MS
    )
    expect(log.get_by_text("That is photosynthesis.")).to_be_visible()
