"""A real Liveroom server in a background thread, for browser tests and screenshots."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from tests import databases

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def chromium(args: list[str] = CHROMIUM_ARGS) -> Iterator:
    """Debian's Chromium, driven by Playwright, closed when done (never a download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()


def log_in(browser, base_url: str, username: str, password: str, **context):
    """A new browser profile (its own cookies and connections, and any Playwright
    context options: time zone, screen size) signed in as ``username``; its page."""
    from playwright.sync_api import expect

    page = browser.new_context(base_url=base_url, **context).new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    # "My channels", or "All channels" for an admin.
    expect(page.get_by_role("heading", name=re.compile(r"^(My|All) channels$"))).to_be_visible()
    return page


def open_link(page, name: str) -> None:
    """Follow a link and wait for the new page's scripts (deferred: htmx, the room's):
    a button pressed before they ran would submit its plain form instead."""
    page.get_by_role("link", name=name).click()
    page.wait_for_load_state("load")


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def demo_app(instance: Path, **config: object) -> Flask:
    """An app on a fresh database of the run's kind (tests/databases.py) loaded with the
    demo data, CSRF checks on."""
    from liveroom import create_app

    app = create_app(
        {
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": databases.database_url(instance, "browser", empty=True),
            "SECRET_KEY": "browser-test-secret",
            **config,
        }
    )
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return app
