"""Log in and log out."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from liveroom.auth import bp, passwords, throttle
from liveroom.auth.forms import USERNAME_MAX, LoginForm
from liveroom.auth.sessions import (
    begin_session,
    end_every_session,
    end_this_session,
    user_of_this_session,
)
from liveroom.extensions import db, login
from liveroom.i18n import N_
from liveroom.models import User
from liveroom.params import MAX_ID

login.login_view = "auth.login_page"
login.login_message = N_("Please log in to continue.")
# Flask-Login flashes its message through this, in the request's language.
login.localize_callback = _
login.login_message_category = "info"

# Translated as each page is answered.
WRONG_LOGIN = N_("That username and password don't match. Check them and try again.")
DEACTIVATED = N_("This account is deactivated. Ask your school's administrator.")


@login.user_loader
def load_user(user_id: str) -> User | None:
    """The signed-in user, while this browser's login session is open and not older
    than ``LIVEROOM_SESSION_DAYS``."""
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) <= 19):
        return None
    if int(user_id) > MAX_ID:
        return None
    return user_of_this_session(int(user_id))


def _has_control_characters(text: str) -> bool:
    # Decoding leaves raw ones as they are, so one look at the decoded text sees both.
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def could_be_a_username(username: str) -> bool:
    """No account has a name this long or with control characters in it, so such a
    name is a failed log-in before any query: PostgreSQL refuses a NUL in text (a 500),
    and the throttle's counts are keyed by the name."""
    return len(username) <= USERNAME_MAX and not any(
        unicodedata.category(c) == "Cc" for c in username
    )


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never another host, never a scheme-relative URL, never
    control characters (raw or percent-encoded), which could split a header."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or _has_control_characters(unquote(target)):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _after_login() -> Response:
    return redirect(safe_next(request.args.get("next")) or url_for("channels.index"))


def _sign_in_options() -> dict:
    """The log-in page's single sign-on buttons, and whether it shows the password
    form: always without a provider, on ``?local=1`` (the way in for admins when the
    provider fails) and when that form was just sent; else unless the admin hid it
    (``hideLocalLogin``)."""
    from liveroom.auth.oidc import configured_providers
    from liveroom.settings import get_settings

    providers = configured_providers()
    show_local = (
        not providers
        or request.method == "POST"
        or request.args.get("local") == "1"
        or not get_settings().hide_local_login
    )
    return {
        "providers": providers,
        "show_local": show_local,
        "next": safe_next(request.args.get("next")),
    }


def _too_many_attempts(form: LoginForm, wait: int) -> Response:
    """429, as the log-in page itself: the person sees why and when to come back."""
    error = ngettext(
        "Too many failed log-ins from here. For your account's safety, wait "
        "%(num)d minute before trying again.",
        "Too many failed log-ins from here. For your account's safety, wait "
        "%(num)d minutes before trying again.",
        max(1, (wait + 59) // 60),
    )
    response = Response(
        render_template("auth/login.html", **_sign_in_options(), form=form, error=error), 429
    )
    response.headers["Retry-After"] = str(wait)
    return response


@dataclass
class LoginAttempt:
    """How a log-in went: the user it opened, or the seconds to wait when refused
    (neither: the username and password don't match)."""

    user: User | None = None
    wait: int = 0


def _release_connection() -> None:
    """Hold no database connection while queuing for a turn or hashing: sixteen
    log-ins at once would otherwise take sixteen of the pool's connections."""
    db.session.rollback()


def _check_login(address: str, username: str, password: str) -> LoginAttempt:
    """Check the throttle, then the password (failures counted)."""
    wait = throttle.seconds_to_wait(address, username)
    _release_connection()
    if wait:
        return LoginAttempt(wait=wait)
    with passwords.turn():
        # Asked again: attempts that queued for a turn see the failures of those before.
        wait = throttle.seconds_to_wait(address, username)
        user = None if wait else db.session.scalar(sa.select(User).where(User.username == username))
        stored_hash = user.password_hash if user else None
        _release_connection()
        if wait:
            return LoginAttempt(wait=wait)
        if user is None or not passwords.password_matches(stored_hash, password):
            # Counted before the turn is given up, so the next one sees it.
            throttle.record_failure(address, username)
            return LoginAttempt()
    throttle.forget_failures(address, username)
    return LoginAttempt(user=user)


@bp.route("/login", methods=["GET", "POST"])
def login_page() -> Response | tuple[str, int]:
    if current_user.is_authenticated:
        return _after_login()
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        if not could_be_a_username(username):
            form.username.data = ""  # not echoed back into the page
            return render_template(
                "auth/login.html", **_sign_in_options(), form=form, error=_(WRONG_LOGIN)
            ), 401
        attempt = _check_login(throttle.client_address(), username, form.password.data)
        if attempt.user is not None and attempt.user.deactivated_at is not None:
            # Said only after the right password: nobody learns which accounts exist.
            return render_template(
                "auth/login.html", **_sign_in_options(), form=form, error=_(DEACTIVATED)
            ), 403
        if attempt.user is not None:
            begin_session(attempt.user)
            db.session.commit()
            return _after_login()
        if attempt.wait:
            return _too_many_attempts(form, attempt.wait)
        return render_template(
            "auth/login.html", **_sign_in_options(), form=form, error=_(WRONG_LOGIN)
        ), 401
    status = 422 if form.is_submitted() else 200
    return render_template("auth/login.html", **_sign_in_options(), form=form, error=None), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    """This browser only: every copy of its cookie ends, the person's other browsers
    stay signed in."""
    end_this_session()
    db.session.commit()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login_page"))


@bp.post("/logout/everywhere")
@login_required
def logout_everywhere() -> Response:
    """For a lost phone or a shared computer left signed in: every browser, at once."""
    end_every_session(current_user)
    end_this_session()
    db.session.commit()
    flash(_("You have logged out on every device."), "info")
    return redirect(url_for("auth.login_page"))
