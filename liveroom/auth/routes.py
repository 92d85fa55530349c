"""Log in and log out."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from liveroom.auth.forms import LoginForm
from liveroom.extensions import db, login
from liveroom.models import User

bp = Blueprint("auth", __name__)

login.login_view = "auth.login_page"
login.login_message = "Please log in to continue."
login.login_message_category = "info"


@login.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never another host, never a scheme-relative URL."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


# Checking a password against this hash when the username is unknown makes
# "no such user" take as long as "wrong password".
_DUMMY_HASH: str | None = None


def _dummy_check(password: str) -> None:
    global _DUMMY_HASH
    probe = User(username="", display_name="", password_hash="")
    if _DUMMY_HASH is None:
        probe.set_password("not-a-real-password")
        _DUMMY_HASH = probe.password_hash
    probe.password_hash = _DUMMY_HASH
    probe.check_password(password)


@bp.route("/login", methods=["GET", "POST"])
def login_page() -> Response | str:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("channels.index"))
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        user = db.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            _dummy_check(form.password.data)
        if user is not None and user.check_password(form.password.data):
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("channels.index"))
        error = "That username and password don't match. Check them and try again."
        status = 401
    elif form.is_submitted():
        status = 422
    return render_template("auth/login.html", form=form, error=error), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash("You have logged out.", "info")
    return redirect(url_for("auth.login_page"))
