"""The shipped gunicorn settings refuse a bad value with one clear line."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def check_config(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GUNICORN, "-c", "gunicorn.conf.py", "--check-config", "wsgi:app"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_collector_threshold_stops_gunicorn_with_one_line():
    for bad in ("abc", "700,10", "0,10,10", "700,-1,10"):
        done = check_config(LIVEROOM_GC_THRESHOLD=bad)
        assert done.returncode != 0
        assert "LIVEROOM_GC_THRESHOLD must be three whole numbers above 0" in done.stderr
        assert "Traceback" not in done.stderr


def test_the_default_and_a_chosen_threshold_are_accepted():
    assert check_config().returncode == 0, check_config().stderr
    assert check_config(LIVEROOM_GC_THRESHOLD="700,10,10").returncode == 0
