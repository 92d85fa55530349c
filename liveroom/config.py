"""Configuration: every setting comes from a ``LIVEROOM_*`` environment variable.

The instance folder holds what the app generates for itself: the SQLite database
and, when ``LIVEROOM_SECRET_KEY`` is not set, a random secret key created once.
"""

from __future__ import annotations

import json
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


def _number(name: str, default: str, kind: type = float, zero_ok: bool = False) -> float:
    raw = os.environ.get(name, default)
    try:
        value = kind(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be a number, not '{raw}'") from None
    if value < 0 or (value == 0 and not zero_ok):
        least = "0 or more" if zero_ok else "greater than 0"
        raise RuntimeError(f"{name} must be {least}, not '{raw}'")
    return value


def _days(name: str, default: str) -> int:
    """A retention period: a whole number of days, at least 1."""
    raw = os.environ.get(name, default)
    if not raw.strip().isdigit() or int(raw) < 1:
        raise RuntimeError(f"{name} must be a whole number of days (1 or more), not '{raw}'")
    return int(raw)


def _logs_and_metrics() -> dict:
    """The request log's format and level (liveroom/request_log.py) and the metrics
    endpoint (liveroom/metrics.py): off unless LIVEROOM_METRICS=on or a token is set."""
    debug = os.environ.get("FLASK_DEBUG", "").lower() in ("1", "true", "yes")
    log_format = os.environ.get("LIVEROOM_LOG_FORMAT", "text" if debug else "json").lower()
    if log_format not in ("json", "text"):
        raise RuntimeError(f"LIVEROOM_LOG_FORMAT must be json or text, not '{log_format}'")
    level = os.environ.get("LIVEROOM_LOG_LEVEL", "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise RuntimeError(
            f"LIVEROOM_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not '{level}'"
        )
    token = os.environ.get("LIVEROOM_METRICS_TOKEN", "").strip()
    if token and (len(token) < 16 or not token.isascii() or not token.isprintable()):
        raise RuntimeError(
            "LIVEROOM_METRICS_TOKEN must be at least 16 printable ASCII characters "
            "(openssl rand -hex 32 makes one)"
        )
    switch = os.environ.get("LIVEROOM_METRICS", "").strip().lower()
    if switch not in ("", "on", "off"):
        raise RuntimeError(f"LIVEROOM_METRICS must be on or off, not '{switch}'")
    return {
        "LIVEROOM_LOG_FORMAT": log_format,
        "LIVEROOM_LOG_LEVEL": level,
        # Unset: on exactly when a token is set. "off" wins over a token.
        "LIVEROOM_METRICS": switch == "on" or (switch == "" and bool(token)),
        "LIVEROOM_METRICS_TOKEN": token,
    }


def _hops(name: str) -> int:
    """A count of trusted proxies: 0 (the default) means the app faces clients directly."""
    raw = os.environ.get(name, "0")
    if not raw.isdigit():
        raise RuntimeError(f"{name} must be a whole number of proxies (0 or more), not '{raw}'")
    return int(raw)


def _ice_servers(name: str) -> list[dict]:
    """STUN/TURN servers for the browsers' peer-to-peer media (RTCIceServer objects,
    as JSON). None are needed when everyone is on one network."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return []
    try:
        servers = json.loads(raw)
    except ValueError:
        servers = None
    valid = isinstance(servers, list) and all(
        isinstance(server, dict)
        and isinstance(server.get("urls"), str | list)
        and all(isinstance(url, str) for url in _as_list(server.get("urls")))
        and all(key in ("urls", "username", "credential") for key in server)
        for server in servers
    )
    if not valid:
        raise RuntimeError(
            f'{name} must be a JSON list like [{{"urls": "stun:stun.example.org"}}], not {raw!r}'
        )
    return servers


def _ice_urls(name: str, schemes: tuple[str, ...]) -> list[str]:
    """Space- or comma-separated ICE server URLs, each with one of ``schemes``."""
    urls = os.environ.get(name, "").replace(",", " ").split()
    for url in urls:
        scheme, colon, rest = url.partition(":")
        if not colon or scheme not in schemes or not rest or rest.startswith("//"):
            expected = " or ".join(f"{scheme}:host:port" for scheme in schemes)
            raise RuntimeError(f"{name} must list URLs like {expected}, not '{url}'")
    return urls


def _turn(urls: list[str]) -> dict:
    """TURN with coturn's shared secret (liveroom/media/ice.py mints the credentials)."""
    secret = os.environ.get("LIVEROOM_TURN_SECRET", "")
    if urls and not secret:
        raise RuntimeError(
            "LIVEROOM_TURN_SECRET must be set (coturn's static-auth-secret) "
            "when LIVEROOM_TURN_URLS is"
        )
    ttl = _number("LIVEROOM_TURN_TTL", "3600", int)
    if not 60 <= ttl <= 86400:
        raise RuntimeError(f"LIVEROOM_TURN_TTL must be 60 to 86400 seconds, not '{ttl}'")
    policy = os.environ.get("LIVEROOM_ICE_TRANSPORT_POLICY", "all")
    if policy not in ("all", "relay"):
        raise RuntimeError(f"LIVEROOM_ICE_TRANSPORT_POLICY must be all or relay, not '{policy}'")
    if policy == "relay" and not urls:
        raise RuntimeError("LIVEROOM_ICE_TRANSPORT_POLICY=relay needs LIVEROOM_TURN_URLS")
    return {
        "LIVEROOM_TURN_URLS": urls,
        "LIVEROOM_TURN_SECRET": secret,
        "LIVEROOM_TURN_TTL": ttl,
        "LIVEROOM_ICE_TRANSPORT_POLICY": policy,
    }


def _http_urls(name: str, websocket: bool = False) -> list[str]:
    schemes = ("http://", "https://", "ws://", "wss://") if websocket else ("http://", "https://")
    urls = os.environ.get(name, "").replace(",", " ").split()
    for url in urls:
        if not url.startswith(schemes) or len(url) > 300:
            allowed = " or ".join(schemes)
            raise RuntimeError(f"{name} must list {allowed} addresses, not '{url}'")
    return urls


def _janus() -> dict:
    """Janus media servers (liveroom/media/sfu.py): the addresses browsers use for
    their Janus API (HTTP or WebSocket), the app's own (HTTP; the same by default),
    their Admin API addresses,
    in the same order, and the Admin API's secret (also the VideoRoom admin_key)."""
    from liveroom.media.janus import JanusServer

    urls = _http_urls("LIVEROOM_JANUS_URLS", True) or _http_urls("LIVEROOM_JANUS_URL", True)
    api = _http_urls("LIVEROOM_JANUS_API_URLS")
    if not api and any(url.startswith("ws") for url in urls):
        raise RuntimeError(
            "LIVEROOM_JANUS_API_URLS must give the servers' HTTP addresses for the app "
            "when LIVEROOM_JANUS_URLS are WebSocket ones"
        )
    api = api or urls
    admin = _http_urls("LIVEROOM_JANUS_ADMIN_URLS")
    secret = os.environ.get("LIVEROOM_JANUS_ADMIN_SECRET", "")
    timeout = _number("LIVEROOM_JANUS_TIMEOUT", "2")
    if urls:
        if len(api) != len(urls) or len(admin) != len(urls):
            raise RuntimeError(
                "LIVEROOM_JANUS_ADMIN_URLS (and LIVEROOM_JANUS_API_URLS, if set) must list "
                f"one address per server in LIVEROOM_JANUS_URLS ({len(urls)})"
            )
        if not secret:
            raise RuntimeError("LIVEROOM_JANUS_ADMIN_SECRET must be set with LIVEROOM_JANUS_URLS")
    servers = [JanusServer(*entry, secret) for entry in zip(urls, api, admin, strict=True)]
    return {"LIVEROOM_JANUS_SERVERS": servers, "LIVEROOM_JANUS_TIMEOUT": timeout}


def _oidc() -> tuple:
    """The school's OpenID Connect providers (LIVEROOM_OIDC_PROVIDERS and each one's
    LIVEROOM_OIDC_<NAME>_* variables: liveroom/auth/oidc.py, docs/sso.md)."""
    from liveroom.auth.oidc import providers_from_env

    return providers_from_env(os.environ)


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _pool_options() -> dict:
    """Database connections per worker process, from the workers and their connections.

    A room stream holds no connection while it waits, and each worker's hub holds at
    most two (its watcher's read, its upkeep's write) and only while it works; so a
    worker needs connections for the requests that are in the middle of their queries,
    not for its thousands of open streams. All workers of a host share
    ``LIVEROOM_DB_CONNECTIONS`` (40; keep it, summed over hosts, under PostgreSQL's
    ``max_connections``, 100 by default): each gets an even share, at least 4, at most
    40 (more only queues at the database on a core), and no more than it has worker
    connections. Half is kept open, half opened when busy. gunicorn.conf.py passes the
    actual worker settings to the app, command-line options included.
    """
    workers = _number("LIVEROOM_WORKERS", str(os.cpu_count() or 1), int)
    worker_connections = _number("LIVEROOM_WORKER_CONNECTIONS", "4000", int)
    budget = _number("LIVEROOM_DB_CONNECTIONS", "40", int)
    share = max(4, min(40, budget // workers, worker_connections + 2))
    pool_size = _number("LIVEROOM_DB_POOL_SIZE", str(share // 2), int)
    max_overflow = _number("LIVEROOM_DB_MAX_OVERFLOW", str(share - share // 2), int)
    return {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        # A request that waits this long for a connection fails instead of hanging on.
        "pool_timeout": _number("LIVEROOM_DB_POOL_TIMEOUT", "10"),
    }


def sqlite_lock_patience() -> float:
    """Seconds a write waits for SQLite's write lock before its request is answered
    503 (``LIVEROOM_SQLITE_LOCK_PATIENCE``, 5: what ``busy_timeout=5000`` allowed).
    The wait lets the worker's other requests run (liveroom/sqlite_locks.py)."""
    return _number("LIVEROOM_SQLITE_LOCK_PATIENCE", "5")


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
        "SQLALCHEMY_ENGINE_OPTIONS": _pool_options(),
        # Read again by each new SQLite connection (extensions.py); here so that a bad
        # value stops the app at start, not at its first connection.
        "LIVEROOM_SQLITE_LOCK_PATIENCE": sqlite_lock_patience(),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("LIVEROOM_SECURE_COOKIES", "") == "1",
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        # WTForms' own messages ("Field cannot be longer than …") in the request's
        # language, from the catalogues WTForms ships (Flask-Babel's locale).
        "WTF_I18N_ENABLED": True,
        # How long someone without an open room stream stays listed.
        "LIVEROOM_PRESENCE_TIMEOUT": _number("LIVEROOM_PRESENCE_TIMEOUT", "30", int),
        # Redis pub/sub wakes every worker of every host at once; without it the
        # workers of one host wake each other (liveroom/live/wake.py).
        "LIVEROOM_REDIS_URL": redis_url,
        # A watcher's safety look, in case a wake-up was lost: without Redis every
        # second (on SQLite a stat() of the database files, a query only when they
        # changed); with Redis never (0), so an idle server reads nothing on a timer.
        "LIVEROOM_EVENT_POLL_SECONDS": _number(
            "LIVEROOM_EVENT_POLL_SECONDS", "0" if redis_url else "1.0", zero_ok=True
        ),
        # Seconds between keep-alive comments on idle streams (proxies close silent ones).
        "LIVEROOM_STREAM_HEARTBEAT": _number("LIVEROOM_STREAM_HEARTBEAT", "15"),
        # Log-in throttling (liveroom/auth/throttle.py): failed log-ins counted per
        # account and address, and per address, within a moving window of seconds.
        "LIVEROOM_LOGIN_FAILURES_PER_ACCOUNT": _number(
            "LIVEROOM_LOGIN_FAILURES_PER_ACCOUNT", "10", int
        ),
        "LIVEROOM_LOGIN_FAILURES_PER_ADDRESS": _number(
            "LIVEROOM_LOGIN_FAILURES_PER_ADDRESS", "100", int
        ),
        "LIVEROOM_LOGIN_WINDOW": _number("LIVEROOM_LOGIN_WINDOW", "900", int),
        # A login session ends this many days after the log-in, used or not
        # (liveroom/auth/sessions.py); a copied cookie works no longer than that.
        "LIVEROOM_SESSION_DAYS": _number("LIVEROOM_SESSION_DAYS", "14"),
        # Each worker remembers whom a cookie signs in and the site's switches until any
        # process changes an account, a session or a setting (liveroom/freshness.py),
        # and this many seconds at most (for changes made in the database by hand);
        # 0 asks the database on every request.
        "LIVEROOM_REMEMBER_SECONDS": _number("LIVEROOM_REMEMBER_SECONDS", "60", zero_ok=True),
        # ICE servers for the browsers' media (liveroom/media/ice.py): fixed ones written
        # out in full (a JSON list of RTCIceServer), STUN URLs, and TURN URLs whose
        # credentials are minted per person from coturn's shared secret, valid for
        # LIVEROOM_TURN_TTL seconds; "relay" sends all media through TURN.
        "LIVEROOM_ICE_SERVERS": _ice_servers("LIVEROOM_ICE_SERVERS"),
        "LIVEROOM_STUN_URLS": _ice_urls("LIVEROOM_STUN_URLS", ("stun", "stuns")),
        **_turn(_ice_urls("LIVEROOM_TURN_URLS", ("turn", "turns"))),
        # Janus media servers (see _janus); meetings do not use them yet (issue 9).
        **_janus(),
        # Sign-in with the school's OpenID Connect providers (none: passwords only).
        "LIVEROOM_OIDC_PROVIDERS": _oidc(),
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed
        # (ProxyFix); the client address is what the outermost trusted one saw.
        "LIVEROOM_TRUSTED_PROXIES": _hops("LIVEROOM_TRUSTED_PROXIES"),
        # Password hashes (scrypt, about 0.15 s of CPU each) checked at once per worker,
        # in gevent's threadpool so pages keep flowing (=0 only to measure the "before").
        # One per worker, with a worker per core, keeps the cores busy and no busier.
        "LIVEROOM_PASSWORD_CHECKS_AT_ONCE": _number("LIVEROOM_PASSWORD_CHECKS_AT_ONCE", "1", int),
        "LIVEROOM_HASH_IN_THREADPOOL": os.environ.get("LIVEROOM_HASH_IN_THREADPOOL", "1") != "0",
        # Request bodies: refused with 413 above this size before a byte is read (1 MB;
        # a file-upload view marked with wsgi_guard.accepts_upload may take 5 MB), and
        # answered 408 when they have not arrived within this many seconds.
        "MAX_CONTENT_LENGTH": _number("LIVEROOM_MAX_CONTENT_LENGTH", str(1024 * 1024), int),
        "LIVEROOM_MAX_UPLOAD_LENGTH": _number(
            "LIVEROOM_MAX_UPLOAD_LENGTH", str(5 * 1024 * 1024), int
        ),
        "LIVEROOM_BODY_TIMEOUT": _number("LIVEROOM_BODY_TIMEOUT", "10"),
        # One JSON line per request on stdout, and Prometheus metrics at /metrics.
        **_logs_and_metrics(),
        # Retention (liveroom/retention.py): an ended meeting's event log is kept this
        # many days (replay only needs live meetings), its chat and attendance this
        # many (then deleted; a deleted message's text goes, its tombstone stays).
        "LIVEROOM_EVENT_RETENTION_DAYS": _days("LIVEROOM_EVENT_RETENTION_DAYS", "7"),
        "LIVEROOM_RETENTION_DAYS": _days("LIVEROOM_RETENTION_DAYS", "365"),
    }
