"""Admin: the Live Room settings."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from liveroom.admin import bp
from liveroom.admin.forms import SettingsForm
from liveroom.audit import ROOM_PREFIX
from liveroom.extensions import db
from liveroom.models import AuditEntry
from liveroom.rooms import chat
from liveroom.settings import change_settings, stored_values

# Form field -> setting key.
FIELDS = {
    "live_room_enabled": "liveRoomEnabled",
    "private_rooms_enabled": "enableUserPrivateLiveRoom",
    "private_room_minimum_role": "privateRoomMinimumRole",
    "open_in_new_tab": "openInNewTab",
    "default_stage_mode": "defaultStageMode",
    "default_application_role": "defaultApplicationRole",
    "hide_local_login": "hideLocalLogin",
    "offered_languages": "offeredLanguages",
    "default_language": "defaultLanguage",
}
# Fields whose setting is a choice rather than true or false.
CHOICES = {
    "privateRoomMinimumRole",
    "defaultStageMode",
    "defaultApplicationRole",
    "defaultLanguage",
}
# Fields whose setting is a list (stored comma-separated).
LISTS = {"offeredLanguages"}


def form_value(key: str, stored: str) -> str | bool | list[str]:
    """A stored setting as its form field holds it."""
    if key in LISTS:
        return stored.split(",")
    if key in CHOICES:
        return stored
    return stored == "true"


def stored_value(raw: object) -> str:
    """A form field's value as the setting stores it."""
    if isinstance(raw, list):
        return ",".join(raw)
    return raw if isinstance(raw, str) else str(bool(raw)).lower()


def saved_message(changes: dict[str, tuple[str, str]]) -> str:
    """What the admin reads after saving; turning the module off has consequences to say."""
    if not changes:
        return _("Nothing changed.")
    if changes.get("liveRoomEnabled", ("", ""))[1] == "false":
        return _("Settings saved. Live rooms are off: every live meeting has ended.")
    if changes.get("enableUserPrivateLiveRoom", ("", ""))[1] == "false":
        return _("Settings saved. Private rooms are off: their live meetings have ended.")
    return _("Settings saved.")


@bp.route("/settings", methods=["GET", "POST"])
def settings() -> Response | tuple[str, int] | str:
    values = stored_values()
    form = SettingsForm(data={field: form_value(key, values[key]) for field, key in FIELDS.items()})
    if "default_language" not in request.form:
        # A post without the Languages fieldset (whose select always sends its value)
        # leaves them as they are: no ticked box means "none offered" only on the page.
        form.offered_languages.data = form_value("offeredLanguages", values["offeredLanguages"])
    if form.validate_on_submit():
        wanted = {key: stored_value(form[field].data) for field, key in FIELDS.items()}
        changes = change_settings(wanted, current_user)
        flash(saved_message(changes), "success")
        return redirect(url_for("admin.settings"), 303)
    # The site's changes; what instructors did in meetings is kept too (liveroom/audit.py)
    # but is not this page's story.
    history = list(
        db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.action.not_like(f"{ROOM_PREFIX}%"))
            .order_by(AuditEntry.id.desc())
            .limit(10)
        )
    )
    status = 422 if form.is_submitted() else 200
    from liveroom.auth.oidc import configured_providers

    return render_template(
        "admin/settings.html", form=form, history=history, sso_providers=configured_providers()
    ), status


@bp.get("/deleted-messages")
def deleted_messages() -> str:
    """Chat messages deleted for everyone, with their text: admins may need them as
    evidence (of bullying, say). Nobody else sees a deleted message again."""
    return render_template(
        "admin/deleted_messages.html",
        messages=chat.deleted_for_everyone(),
        shown=chat.DELETED_SHOWN,
        retention_days=current_app.config["LIVEROOM_RETENTION_DAYS"],
    )
