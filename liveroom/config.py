"""Configuration: every setting comes from a ``LIVEROOM_*`` environment variable.

The instance folder holds what the app generates for itself: the SQLite database
and, when ``LIVEROOM_SECRET_KEY`` is not set, a random secret key created once.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _secret_key(instance_path: Path) -> str:
    configured = os.environ.get("LIVEROOM_SECRET_KEY")
    if configured:
        return configured
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        # Write-then-rename so two workers starting together never read half a key.
        tmp = key_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        if not key_file.exists():
            tmp.replace(key_file)
        else:
            tmp.unlink()
    return key_file.read_text().strip()


def _number(name: str, default: str, kind: type = float) -> float:
    raw = os.environ.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be a number, not '{raw}'") from None
    if value <= 0:
        raise RuntimeError(f"{name} must be greater than 0, not '{raw}'")
    return value


def load_config(instance_path: str) -> dict:
    """Build the Flask config mapping from the environment."""
    instance = Path(instance_path)
    database_url = os.environ.get(
        "LIVEROOM_DATABASE_URL", f"sqlite:///{instance / 'liveroom.sqlite'}"
    )
    redis_url = os.environ.get("LIVEROOM_REDIS_URL") or None
    return {
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("LIVEROOM_SECURE_COOKIES", "") == "1",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # How long someone without an open room stream stays listed.
        "LIVEROOM_PRESENCE_TIMEOUT": _number("LIVEROOM_PRESENCE_TIMEOUT", "30", int),
        # Redis pub/sub wakes every worker at once; without it each worker's watcher
        # looks at the event log this often (one indexed query).
        "LIVEROOM_REDIS_URL": redis_url,
        # On SQLite a look costs a stat() of the database files, so it can be frequent.
        "LIVEROOM_EVENT_POLL_SECONDS": _number(
            "LIVEROOM_EVENT_POLL_SECONDS",
            "1.0" if redis_url else ("0.002" if database_url.startswith("sqlite") else "0.01"),
        ),
        # Seconds between keep-alive comments on idle streams (proxies close silent ones).
        "LIVEROOM_STREAM_HEARTBEAT": _number("LIVEROOM_STREAM_HEARTBEAT", "15"),
    }
