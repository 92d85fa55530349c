"""LTI 1.3 views: the login initiation, the launch, and the tool's JWKS."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from liveroom.auth.sessions import begin_session
from liveroom.extensions import db
from liveroom.lti import arrivals, bp, keys, platforms
from liveroom.lti import launch as protocol
from liveroom.lti.frames import COOKIE_CHECK, cookie_options
from liveroom.lti.launch import LaunchRefused
from liveroom.models import LtiPlatform


def refused(error: LaunchRefused) -> tuple[str, int]:
    return render_template("lti/refused.html", title=error.title, message=str(error)), error.status


def _with_client_id(params: dict[str, str]) -> dict[str, str]:
    """The client id is optional in a login initiation: an issuer registered once
    names its registration by itself."""
    if params.get("iss") and not params.get("client_id"):
        ids = db.session.scalars(
            sa.select(LtiPlatform.client_id).where(LtiPlatform.issuer == params["iss"])
        ).all()
        if len(ids) == 1:
            params["client_id"] = ids[0]
    return params


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
    """Third-party login initiation: first a cookie round trip (can this browser keep
    our cookie in this frame?), then the redirect to the platform."""
    params = _with_client_id(protocol.login_params())
    if not params.get("iss") or platforms.find(params["iss"], params.get("client_id", "")) is None:
        return refused(protocol.refusal("Could not find registration details"))
    if not params.get("login_hint"):
        return refused(protocol.refusal("Could not find login hint"))
    checked = request.values.get("cookie_check") == "1"
    new_window = request.values.get("lti1p3_new_window") == "1"
    if not checked and not new_window:
        answer = redirect(url_for("lti.login", **params, cookie_check="1"), 303)
        answer.set_cookie(COOKIE_CHECK, "1", max_age=300, path="/lti/", **cookie_options())
        return answer
    if checked and not request.cookies.get(COOKIE_CHECK):
        new_window_url = url_for("lti.login", **params, lti1p3_new_window="1")
        return render_template("lti/new_window.html", new_window_url=new_window_url), 200
    try:
        return protocol.redirect_to_platform(url_for("lti.launch", _external=True))
    except LaunchRefused as error:
        return refused(error)


@bp.post("/launch")
def launch() -> Response | tuple[str, int]:
    """The platform's signed launch: sign in, the course's channel, the role; then
    the channel's page with its live room."""
    try:
        arrival = arrivals.arrive(protocol.validated_launch())
    except LaunchRefused as error:
        db.session.rollback()
        return refused(error)
    begin_session(arrival.user)
    db.session.commit()
    if arrival.kept_from is not None:
        flash(
            _(
                "You stay Manager of this channel: it has no other Manager. "
                "Make someone else Manager to change your role."
            ),
            "info",
        )
    return redirect(url_for("channels.show", channel_id=arrival.channel.id), 303)


@bp.get("/jwks.json")
def jwks() -> Response:
    """The tool's public key set, for the platforms."""
    answer = jsonify(keys.jwks())
    answer.headers["Cache-Control"] = "public, max-age=3600"
    return answer
