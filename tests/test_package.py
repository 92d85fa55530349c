"""Liveroom as a school's server installs it: a wheel built from the repository, in a
fresh virtual environment, run from elsewhere; and the version it says it is."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import requests

import liveroom

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_version_comes_from_pyproject():
    assert liveroom.__version__ == VERSION


def test_the_footer_says_the_version(client):
    page = client.get("/login").get_data(as_text=True)
    assert re.search(
        rf'<footer class="site-footer">\s*Liveroom {re.escape(VERSION)}\s*</footer>', page
    )


def test_the_version_command(runner):
    result = runner.invoke(args=["version"])
    assert result.exit_code == 0
    assert result.output == f"Liveroom {VERSION}\n"


def source_files() -> list[str]:
    """What a clean checkout holds (tracked files, and new ones not yet committed)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def build_wheel(tmp_path: Path) -> Path:
    """A wheel built from a copy of the checkout, with the repository's node_modules
    (npm ci) beside it as a build would have: the repository itself is left as it was."""
    source = tmp_path / "source"
    for name in source_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    (source / "node_modules").symlink_to(ROOT / "node_modules")
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, source],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = dist.glob("liveroom-*.whl")
    return wheel


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds} s")


@pytest.mark.once
def test_a_built_wheel_installs_and_serves_on_its_own(tmp_path):
    wheel = build_wheel(tmp_path)
    assert wheel.name == f"liveroom-{VERSION}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "liveroom/wsgi.py",
        "liveroom/gunicorn_conf.py",
        "liveroom/live/hub.py",
        "liveroom/media/sfu.py",
        "liveroom/migrations/alembic.ini",
        "liveroom/migrations/versions/0001_baseline.py",
        "liveroom/_bundled/templates/base.html",
        "liveroom/_bundled/static/css/liveroom.css",
        *(f"liveroom/_bundled/vendor/{name}" for name in liveroom.VENDOR_FILES),
    ):
        assert shipped in names

    # A fresh environment (nothing from this one), the wheel and its dependencies.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    bin_dir = venv / "bin"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", bin_dir / "python", "install", "--quiet", wheel],
        check=True,
        capture_output=True,
        timeout=600,
    )
    elsewhere = tmp_path / "srv"
    elsewhere.mkdir()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(elsewhere),
        "LANG": "C.UTF-8",
        "LIVEROOM_INSTANCE_PATH": str(tmp_path / "instance"),
        "LIVEROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'liveroom.sqlite'}",
    }

    def flask(*args: str) -> str:
        done = subprocess.run(
            [bin_dir / "flask", "--app", "liveroom", *args],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert flask("version") == f"Liveroom {VERSION}\n"
    assert "Database ready." in flask("init-db")
    where = subprocess.run(
        [bin_dir / "python", "-c", "import liveroom; print(liveroom.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where

    port = free_port()
    server = subprocess.Popen(
        [
            bin_dir / "gunicorn",
            "-c",
            "python:liveroom.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "liveroom.wsgi:app",
        ],
        cwd=elsewhere,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", server)
        login = requests.get(f"{base}/login", timeout=10)
        assert login.status_code == 200
        assert '<form method="post"' in login.text
        assert 'name="password"' in login.text
        assert f"Liveroom {VERSION}" in login.text

        htmx = requests.get(f"{base}/vendor/htmx.min.js", timeout=10)
        assert htmx.status_code == 200
        assert htmx.headers["Content-Type"].startswith("text/javascript")
        assert htmx.content == (ROOT / "node_modules/htmx.org/dist/htmx.min.js").read_bytes()

        stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', login.text).group(1)
        css = requests.get(f"{base}{stylesheet}", timeout=10)
        assert css.status_code == 200
        assert css.headers["Content-Type"].startswith("text/css")
        assert css.content == (ROOT / "static/css/liveroom.css").read_bytes()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
