"""The live-room switches of one's own account (liveroom/preferences.py): on the
Account page ("Live room": the announcements heard, keyboard shortcuts), and the
shortcuts' own switch in the room's shortcuts dialog, which answers htmx with the
page's new ``#room-prefs`` and a sentence for its live region."""

from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from liveroom import preferences
from liveroom.auth import bp
from liveroom.extensions import db


@bp.context_processor
def live_room_settings_context() -> dict:
    """What the Account page's "Live room" section shows."""
    if not current_user.is_authenticated:
        return {}
    return {
        "live_room_announcements": preferences.ANNOUNCEMENTS,
        "live_room_off": preferences.announcements_off(current_user),
        "live_room_error": g.get("live_room_error"),
    }


def _shortcuts_choice() -> bool | None:
    """The posted ``shortcuts_on``: a hidden "0" then, when ticked, the box's "1" (the
    last one counts); None when missing or anything else."""
    values = request.form.getlist("shortcuts_on")
    if not values or any(value not in ("0", "1") for value in values):
        return None
    return values[-1] == "1"


@bp.post("/account/live-room")
@login_required
def live_room_settings() -> Response | tuple[str, int]:
    heard = request.form.getlist("announce")
    shortcuts_on = _shortcuts_choice()
    if any(key not in preferences.ANNOUNCEMENTS for key in heard):
        g.live_room_error = _("Choose among the announcements listed.")
    elif shortcuts_on is None:
        g.live_room_error = _("Say whether keyboard shortcuts are on.")
    else:
        user = current_user._get_current_object()
        preferences.set_announcements_heard(user, heard)
        user.shortcuts_on = shortcuts_on
        db.session.commit()
        flash(_("Live room settings saved."), "success")
        return redirect(url_for("auth.account") + "#live-room-title", 303)
    from liveroom.auth.account import account_page

    return account_page(422)


@bp.post("/account/shortcuts")
@login_required
def shortcuts() -> Response | tuple[str, int]:
    shortcuts_on = _shortcuts_choice()
    if shortcuts_on is None:
        return _("Say whether keyboard shortcuts are on."), 400
    user = current_user._get_current_object()
    user.shortcuts_on = shortcuts_on
    db.session.commit()
    said = _("Keyboard shortcuts are on.") if shortcuts_on else _("Keyboard shortcuts are off.")
    if not request.headers.get("HX-Request"):
        flash(said, "success")
        return redirect(url_for("auth.account") + "#live-room-title", 303)
    html = render_template("rooms/_room_prefs.html", oob=True) + render_template(
        "rooms/_announce.html", message=said
    )
    response = Response(html)
    response.headers["Vary"] = "HX-Request"
    return response
