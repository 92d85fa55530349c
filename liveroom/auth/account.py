"""Everyone's own account: the name others see, and their password. Someone given a
temporary password (by an admin's reset, or a new account) is sent to "Choose a new
password" from every page until they have."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required

from liveroom import accounts
from liveroom.auth import bp, passwords, throttle
from liveroom.auth.forms import ChangePasswordForm, DisplayNameForm, LanguageForm
from liveroom.auth.sessions import begin_session
from liveroom.extensions import db
from liveroom.i18n import LANGUAGES, offered

# What someone who must change their password may still reach.
OPEN_WHILE_CHANGING = frozenset(
    {"auth.change_password", "auth.logout", "auth.logout_everywhere", "auth.login_page", "static"}
)


@bp.before_app_request
def send_to_choose_a_password() -> Response | None:
    """Every page waits until a temporary password has been replaced."""
    if "_user_id" not in session or request.endpoint in OPEN_WHILE_CHANGING:
        return None  # nobody signed in (no look-up at all), or a page they may see
    if request.endpoint and request.endpoint.endswith(".static"):
        return None
    if not (current_user.is_authenticated and current_user.must_change_password):
        return None
    target = url_for("auth.change_password")
    if request.headers.get("HX-Request"):
        response = Response(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _current_password_matches(password: str) -> bool | None:
    """Whether ``password`` is the signed-in person's; None while the log-in throttle
    makes them wait: a stolen session must not guess the password here faster than at
    the log-in page (the failures count for both)."""
    address, username = throttle.client_address(), current_user.username
    if throttle.seconds_to_wait(address, username):
        return None
    stored = current_user.password_hash
    with passwords.turn():
        matched = passwords.password_matches(stored, password)
        if not matched:
            throttle.record_failure(address, username)
    return matched


def _render_account(
    name_form: DisplayNameForm,
    password_form: ChangePasswordForm,
    status: int,
    language_form: LanguageForm | None = None,
):
    if language_form is None:
        language_form = LanguageForm(formdata=None, data={"locale": current_user.locale or ""})
    return render_template(
        "auth/account.html",
        name_form=name_form,
        password_form=password_form,
        language_form=language_form,
        languages=[LANGUAGES[code] for code in offered()],
        has_password=not accounts.uses_single_sign_on(current_user),
    ), status


def account_page(status: int) -> tuple[str, int]:
    """The Account page as a visit draws it, answered with ``status``: another of its
    forms (liveroom/auth/live_room.py) was refused and shows why."""
    name_form = DisplayNameForm(formdata=None, data={"display_name": current_user.display_name})
    return _render_account(name_form, ChangePasswordForm(formdata=None), status)


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> Response | tuple[str, int]:
    name_form = DisplayNameForm(data={"display_name": current_user.display_name})
    if name_form.validate_on_submit():
        try:
            changed = accounts.rename(current_user, name_form.display_name.data, current_user)
        except accounts.AccountError as error:
            name_form.display_name.errors.append(str(error))
        else:
            db.session.commit()
            flash(_("Display name saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("auth.account"), 303)
    status = 422 if name_form.is_submitted() else 200
    return _render_account(name_form, ChangePasswordForm(formdata=None), status)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | tuple[str, int]:
    if accounts.uses_single_sign_on(current_user):
        flash(_("You sign in through your school's single sign-on: change your password there."))
        return redirect(url_for("auth.account"), 303)
    form = ChangePasswordForm()
    if form.validate_on_submit():
        new = form.new_password.data
        matched = _current_password_matches(form.current_password.data)
        if matched is None:
            form.current_password.errors.append(
                _("Too many wrong passwords. For your account's safety, wait a few minutes.")
            )
        elif not matched:
            form.current_password.errors.append(_("That is not your current password."))
        elif new != form.confirm_password.data:
            form.confirm_password.errors.append(_("The two new passwords differ. Type them again."))
        elif new == form.current_password.data:
            form.new_password.errors.append(_("Choose a password different from the current one."))
        elif problem := accounts.password_problem(new, current_user.username):
            form.new_password.errors.append(problem)
        else:
            user = current_user._get_current_object()
            accounts.change_own_password(user, new)
            begin_session(user)  # this browser stays signed in, the others are not
            db.session.commit()
            flash(_("Password changed. Your other browsers and devices are signed out."), "success")
            return redirect(url_for("channels.index"), 303)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "auth/password.html", form=form, forced=current_user.must_change_password
    ), status


@bp.post("/account/language")
@login_required
def choose_language() -> Response | tuple[str, int]:
    """The person's language: one the site offers, or the browser's ("" stores None).
    It holds from the next page on; the confirmation is already in it."""
    form = LanguageForm()
    if form.validate_on_submit():
        code = (form.locale.data or "").strip()
        if code and code not in offered():
            form.locale.errors.append(_("Choose a language from the list."))
        else:
            current_user.locale = code or None
            db.session.commit()
            refresh()  # the confirmation in the language now chosen
            flash(_("Language saved."), "success")
            return redirect(url_for("auth.account") + "#language-title", 303)
    elif not form.locale.errors:
        form.locale.errors.append(_("The form expired: try again."))
    name_form = DisplayNameForm(formdata=None, data={"display_name": current_user.display_name})
    return _render_account(name_form, ChangePasswordForm(formdata=None), 422, form)
