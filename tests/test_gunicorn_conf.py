"""The shipped gunicorn settings refuse a bad value with one clear line."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def check_config(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [GUNICORN, "-c", "gunicorn.conf.py", "--check-config", "wsgi:app"],
        cwd=ROOT,
        env={
            **os.environ,
            "LIVEROOM_INSTANCE_PATH": str(tmp_path),
            "LIVEROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'conf.sqlite'}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_collector_threshold_stops_gunicorn_with_one_line(tmp_path):
    for bad in ("abc", "700,10", "0,10,10", "700,-1,10"):
        done = check_config(tmp_path, LIVEROOM_GC_THRESHOLD=bad)
        assert done.returncode != 0
        assert "LIVEROOM_GC_THRESHOLD must be three whole numbers above 0" in done.stderr
        assert "Traceback" not in done.stderr


def test_the_default_and_a_chosen_threshold_are_accepted(tmp_path):
    assert check_config(tmp_path).returncode == 0, check_config(tmp_path).stderr
    assert check_config(tmp_path, LIVEROOM_GC_THRESHOLD="700,10,10").returncode == 0


def test_the_instance_folder_can_be_put_elsewhere(tmp_path):
    # An installed copy cannot write beside its code: the secret key and the workers'
    # shared number go where LIVEROOM_INSTANCE_PATH says.
    elsewhere = tmp_path / "elsewhere"
    assert check_config(tmp_path, LIVEROOM_INSTANCE_PATH=str(elsewhere)).returncode == 0
    assert (elsewhere / "secret_key").exists()
    assert any(path.name.startswith("generation-") for path in elsewhere.iterdir())


def settings_seen(tmp_path: Path, expression: str, **env: str) -> str:
    """A value of the shipped settings module, as gunicorn's master would read it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIVEROOM_")}
    done = subprocess.run(
        [sys.executable, "-c", f"import liveroom.gunicorn_conf as c; print({expression})"],
        cwd=ROOT,
        env={**environment, "LIVEROOM_INSTANCE_PATH": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_gunicorns_access_log_is_off_since_the_app_logs_each_request(tmp_path):
    assert settings_seen(tmp_path, "c.accesslog") == "None"
    assert settings_seen(tmp_path, "c.accesslog", LIVEROOM_ACCESS_LOG="-") == "-"


def test_a_run_with_metrics_starts_from_an_empty_directory(tmp_path, monkeypatch):
    from liveroom import metrics

    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"a previous run's counts")
    monkeypatch.setenv("LIVEROOM_METRICS", "on")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    metrics.gunicorn_on_starting()
    assert list(folder.iterdir()) == []
    # Without a directory given, the run makes its own and removes it at the end.
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    metrics.gunicorn_on_starting()
    made = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    assert made.is_dir()
    metrics.gunicorn_on_exit()
    assert not made.exists()
