"""Liveroom: a self-hosted live-classroom portal for schools."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from liveroom import assets, freshness, i18n, request_log, script_strings, sqlite_locks
from liveroom.auth import csrf_tokens
from liveroom.config import load_config
from liveroom.extensions import csrf, db, htmx, login, migrate
from liveroom.params import IdConverter, RoomIdConverter

PROJECT_ROOT = assets.PROJECT_ROOT
# Front-end libraries served under /vendor (liveroom/assets.py says from where).
VENDOR_FILES = assets.VENDOR_FILES

try:
    # One source: pyproject.toml's version, as the installed package's metadata says.
    __version__ = version("liveroom")
except PackageNotFoundError:  # the source tree on sys.path without being installed
    __version__ = "0+unknown"


def content_security_policy(connect: tuple[str, ...] = ()) -> str:
    """The policy, with ``connect`` (the Janus servers' origins, which the pages'
    media script calls) added to ``connect-src``, and nothing else."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            " ".join(["connect-src 'self'", *connect]),
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def origin_of(url: str) -> str:
    """scheme://host[:port] of an address."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


CONTENT_SECURITY_POLICY = content_security_policy()
# Camera, microphone and screen sharing for the app's own pages only (the media
# issue); nothing else a classroom page has no use for.
PERMISSIONS_POLICY = ", ".join(
    [
        "camera=(self)",
        "microphone=(self)",
        "display-capture=(self)",
        "geolocation=()",
        "payment=()",
        "usb=()",
    ]
)
# One year; set only when the site is served over HTTPS (LIVEROOM_SECURE_COOKIES=1).
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def apply_security_headers(response: Response) -> Response:
    """The headers every answer carries, error pages included (liveroom/errors.py
    calls this directly when even the error template fails)."""
    policy = (current_app.config.get("LIVEROOM_CSP") if current_app else None) or (
        CONTENT_SECURITY_POLICY
    )
    if current_app and request:
        # Framable by the registered learning platforms (liveroom/lti/frames.py).
        from liveroom.lti.frames import with_frame_ancestors

        policy = with_frame_ancestors(policy, response)
    response.headers.setdefault("Content-Security-Policy", policy)
    response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app and current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    # Fragments and full pages share URLs, so caches must key on HX-Request.
    response.vary.add("HX-Request")
    if not request or request.endpoint not in ("static", "vendor", "favicon"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _instance_path() -> str | None:
    chosen = os.environ.get("LIVEROOM_INSTANCE_PATH") or assets.default_instance_path()
    return os.path.abspath(chosen) if chosen else None


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        # The secret key, the workers' shared number (liveroom/freshness.py) and the
        # SQLite database by default: the project's instance folder unless the server
        # names another (LIVEROOM_INSTANCE_PATH; a relative one is from the working
        # directory). An installed package without it: Flask's <venv>/var/liveroom-instance.
        instance_path=_instance_path(),
        instance_relative_config=True,
        # The repository's templates/ and static/, or a built package's copies.
        template_folder=str(assets.asset_folder("templates")),
        static_folder=str(assets.asset_folder("static")),
    )
    if test_config and "INSTANCE_PATH" in test_config:
        app.instance_path = test_config["INSTANCE_PATH"]
    app.config.from_mapping(load_config(app.instance_path))
    app.config["LIVEROOM_VENDOR_FILES"] = assets.vendor_files()
    if test_config:
        app.config.update(test_config)

    # The pages' media script talks to the Janus servers browsers are given.
    janus = sorted({origin_of(server.url) for server in app.config["LIVEROOM_JANUS_SERVERS"]})
    app.config["LIVEROOM_CSP"] = content_security_policy(tuple(janus))
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["room"] = RoomIdConverter
    db.init_app(app)
    # Schema changes ship as Alembic revisions in liveroom/migrations (flask db upgrade).
    migrate.init_app(
        app, db, directory=str(Path(__file__).resolve().parent / "migrations"), render_as_batch=True
    )
    login.init_app(app)
    csrf.init_app(app)
    csrf_tokens.install(app)  # the signed token reused for a minute (templates' csrf_token)
    htmx.init_app(app)
    # Flask-Babel: the request's language (liveroom/i18n.py) and Jinja's {% trans %}.
    i18n.init_app(app)
    # The scripts' words, per language, at /i18n/<code>.json (liveroom/script_strings.py).
    script_strings.init_app(app)

    from liveroom import (
        admin,
        auth,
        channels,
        errors,
        live,
        lti,
        media,
        rooms,
        templating,
        wsgi_guard,
    )
    from liveroom.auth import throttle
    from liveroom.cli import register_cli
    from liveroom.health import bp as health_bp
    from liveroom.live import hub

    # Each area's blueprint, defined in its package, with the views of its route modules.
    for area in (auth, channels, rooms, media, admin, live, lti):
        area.register(app)
    hub.init_app(app)
    # Who is signed in, and the switches, remembered per worker until anything changes.
    freshness.init_app(app)
    # Log-in failures counted in Redis through Flask-Limiter when configured.
    throttle.init_app(app)
    errors.register(app)
    # A write that waited for SQLite's lock past its patience: 503 with Retry-After.
    sqlite_locks.init_app(app)
    # Bodies over MAX_CONTENT_LENGTH get 413 unread; slow bodies 408 (gevent workers).
    wsgi_guard.install(app)
    # One log line per request with its id (X-Request-Id), and the metrics when on;
    # inside ProxyFix, so both see the client's address.
    request_log.init_app(app)
    app.register_blueprint(health_bp)
    templating.register(app)
    app.jinja_env.globals["liveroom_version"] = __version__  # the pages' footer
    register_cli(app)
    # Behind reverse proxies, the client is the address the outermost trusted one saw.
    if hops := app.config["LIVEROOM_TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    @app.get("/")
    def index() -> Response:
        if current_user.is_authenticated:
            return redirect(url_for("channels.index"))
        return redirect(url_for("auth.login_page"))

    @app.get("/vendor/<path:name>")
    def vendor(name: str) -> Response:
        path = app.config["LIVEROOM_VENDOR_FILES"].get(name)
        if path is None:
            abort(404)
        return send_from_directory(path.parent, path.name, max_age=3600)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Browsers ask for /favicon.ico on pages without a <link rel="icon"> (JSON, files).
        return send_from_directory(
            app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400
        )

    @app.after_request
    def security_headers(response: Response) -> Response:
        return apply_security_headers(response)

    return app
