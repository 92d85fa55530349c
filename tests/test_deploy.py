"""What a school's server is given: the systemd unit, the settings file's example and
the deployment guide say only what is true of this Liveroom."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from liveroom.config import load_config

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "liveroom.service"
ENV_EXAMPLE = ROOT / "deploy" / "liveroom.env.example"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.once


def systemd_verify(unit: Path) -> str:
    """systemd-analyze's complaints about ``unit`` (empty when it has none: it exits 0
    on an unknown key or value, so its words are what counts)."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: run scripts/ensure-systemd-analyze"
    done = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=60)
    return (done.stdout + done.stderr).strip() or ("" if done.returncode == 0 else "failed")


def unit_text() -> str:
    return UNIT.read_text()


def exec_start() -> list[str]:
    (line,) = re.findall(r"^ExecStart=(.*)$", unit_text(), flags=re.MULTILINE)
    return shlex.split(line)


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    # The unit names the server's venv; here it points at this one's gunicorn.
    gunicorn = exec_start()[0]
    here = tmp_path / "liveroom.service"
    here.write_text(unit_text().replace(gunicorn, str(BIN / "gunicorn")))
    assert systemd_verify(here) == ""

    # The check itself catches a broken unit: a misspelt key, a bad value.
    for good, bad in (("KillMode=", "KillMod="), ("Restart=on-failure", "Restart=sometimes")):
        broken = tmp_path / "broken.service"
        broken.write_text(here.read_text().replace(good, bad))
        assert systemd_verify(broken) != ""


def test_the_unit_runs_the_shipped_settings_as_its_own_user():
    text = unit_text()
    for line in (
        "User=liveroom",
        "EnvironmentFile=/etc/liveroom/liveroom.env",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/liveroom",
        "PrivateTmp=yes",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, flags=re.MULTILINE), line
    assert exec_start()[1:] == [
        "-c",
        "python:liveroom.gunicorn_conf",
        "liveroom.wsgi:app",
    ]


def test_the_units_gunicorn_command_line_is_accepted(tmp_path):
    """ExecStart's options, checked by gunicorn from a folder that is not the
    repository (so no gunicorn.conf.py is found by accident)."""
    done = subprocess.run(
        [BIN / "gunicorn", *exec_start()[1:-1], "--check-config", exec_start()[-1]],
        cwd=tmp_path,
        env={
            **os.environ,
            "LIVEROOM_INSTANCE_PATH": str(tmp_path / "instance"),
            "LIVEROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'unit.sqlite'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def settings_in_code() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "liveroom").rglob("*.py"):
        names.update(re.findall(r"LIVEROOM_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    return names


@pytest.mark.parametrize("document", ["deploy/liveroom.env.example", "docs/deploy.md"])
def test_only_settings_that_exist_are_named(document):
    known = settings_in_code()
    named = re.findall(r"LIVEROOM_[A-Z0-9_]+\*?", (ROOT / document).read_text())
    assert named
    unknown = {
        name
        for name in named
        if not (
            any(setting.startswith(name[:-1]) for setting in known)
            if name.endswith("*")  # LIVEROOM_JANUS_*: a family of settings
            else name.rstrip("_") in known
        )
    }
    assert unknown == set()


def test_the_example_settings_are_accepted(tmp_path, monkeypatch):
    """What the example sets (not its commented lines) loads as it stands, and it
    holds no secret: the secrets are commented placeholders."""
    assigned = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            assigned[name] = value.strip('"')
    assert "LIVEROOM_DATABASE_URL" in assigned
    assert not {"LIVEROOM_SECRET_KEY", "LIVEROOM_TURN_SECRET", "LIVEROOM_JANUS_ADMIN_SECRET"} & set(
        assigned
    )
    for name, value in assigned.items():
        monkeypatch.setenv(name, value)
    config = load_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == assigned["LIVEROOM_DATABASE_URL"]
