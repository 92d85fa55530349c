"""Admin: the learning platforms (LTI 1.3) and the mapping of LTI roles to channel
roles. The page shows what to paste into Moodle or Canvas (docs/lti.md)."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField

from liveroom.admin import bp
from liveroom.extensions import db
from liveroom.lti import keys, platforms, roles
from liveroom.models import LtiPlatform
from liveroom.roles import ChannelRole


class PlatformForm(FlaskForm):
    name = StringField(_l("Name"))
    issuer = StringField(_l("Issuer (Platform ID)"))
    client_id = StringField(_l("Client ID"))
    deployment_ids = TextAreaField(_l("Deployment IDs, one a line"))
    auth_login_url = StringField(_l("Authentication request URL (OIDC auth)"))
    auth_token_url = StringField(_l("Access token URL"))
    key_set_url = StringField(_l("Public keyset URL (JWKS)"))
    frame_origins = TextAreaField(_l("Other addresses of the platform, one a line (optional)"))


class ConfirmForm(FlaskForm):
    """A button's CSRF token."""


def tool_urls() -> dict[str, str]:
    key = keys.tool_key()
    return {
        "login": url_for("lti.login", _external=True),
        "launch": url_for("lti.launch", _external=True),
        "jwks": url_for("lti.jwks", _external=True),
        "public_key": keys.public_pem(key),
        "domain": request.host,
    }


def _page(form: PlatformForm | None = None, editing: LtiPlatform | None = None, status: int = 200):
    mapping = roles.current_mapping()
    named = sorted((name for name in mapping if name != roles.OTHERS), key=str.casefold)
    return (
        render_template(
            "admin/lti.html",
            platforms=platforms.all_platforms(),
            form=form or PlatformForm(formdata=None),
            editing=editing,
            tool=tool_urls(),
            mapping=mapping,
            named=named,
            channel_roles=list(ChannelRole),
            others=roles.OTHERS,
            confirm=ConfirmForm(),
        ),
        status,
    )


@bp.get("/lti")
def lti() -> tuple[str, int]:
    return _page()


def _platform(platform_id: int) -> LtiPlatform:
    platform = db.session.get(LtiPlatform, platform_id)
    if platform is None:
        abort(404)
    return platform


@bp.get("/lti/platforms/<id:platform_id>")
def lti_platform(platform_id: int) -> tuple[str, int]:
    platform = _platform(platform_id)
    return _page(PlatformForm(obj=platform), editing=platform)


def _save(platform: LtiPlatform | None) -> Response | tuple[str, int]:
    form = PlatformForm()
    if not form.validate_on_submit():
        return _page(form, platform, 400)
    fields = platforms.PlatformFields(
        **{name: form[name].data or "" for name in vars(platforms.PlatformFields())}
    )
    try:
        saved = platforms.save_platform(platform, fields, current_user)
    except platforms.PlatformError as error:
        form[error.field].errors = [str(error)]
        return _page(form, platform, 422)
    flash(_("%(name)s is registered.", name=saved.name), "success")
    return redirect(url_for("admin.lti"), 303)


@bp.post("/lti/platforms")
def lti_register() -> Response | tuple[str, int]:
    return _save(None)


@bp.post("/lti/platforms/<id:platform_id>")
def lti_change(platform_id: int) -> Response | tuple[str, int]:
    return _save(_platform(platform_id))


@bp.post("/lti/platforms/<id:platform_id>/remove")
def lti_remove(platform_id: int) -> Response:
    platform = _platform(platform_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    platforms.remove_platform(platform, current_user)
    flash(_("%(name)s is no longer registered.", name=platform.name), "success")
    return redirect(url_for("admin.lti"), 303)


@bp.post("/lti/roles")
def lti_roles() -> Response | tuple[str, int]:
    if not ConfirmForm().validate_on_submit():
        abort(400)
    values = {choice.value: choice for choice in ChannelRole}
    mapping: dict[str, ChannelRole] = {}
    for name in roles.current_mapping():
        chosen = request.form.get(f"role-{name}", "")
        if chosen in values:
            mapping[name] = values[chosen]
        elif name == roles.OTHERS or chosen != "remove":
            flash(_("Choose a channel role for every LTI role."), "error")
            return _page(status=422)
    new_name = " ".join(request.form.get("new_role", "").split())
    if new_name:
        chosen = request.form.get("new_channel_role", "")
        if chosen not in values:
            flash(_("Choose a channel role for the LTI role you add."), "error")
            return _page(status=422)
        mapping[roles.short_name(new_name)] = values[chosen]
    try:
        roles.save_mapping(mapping)
    except roles.MappingError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _page(status=422)
    from liveroom import audit

    audit.record(
        current_user.id,
        "lti_roles_changed",
        ", ".join(f"{name} → {role.value}" for name, role in sorted(mapping.items())),
    )
    db.session.commit()
    flash(_("The role mapping is saved. It applies from each person's next launch."), "success")
    return redirect(url_for("admin.lti") + "#roles", 303)
