"""The media routes: one's own microphone, camera and screen, the instructors' media
controls, and the signals between browsers.

Every action is checked here against the rules (``rules.py``) with the actor's rank
now, and answers 204: everyone, the actor included, sees its effect in the roster and
the people list over the room's stream. Refusals answer a readable sentence (4xx):
htmx swaps it into the room's error line, and the media script shows it.
"""

from __future__ import annotations

from flask import Response, abort, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import login_required

from liveroom.auth.sessions import signed_in_user
from liveroom.extensions import db
from liveroom.media import actions, bp, rules, signals
from liveroom.media.actions import room_now, state_of
from liveroom.media.backend import hold_strong_mutes, lift_strong_mutes
from liveroom.media.ice import ice_configuration
from liveroom.media.rules import Kind, StageMode
from liveroom.models import LiveSession, Participation
from liveroom.rooms import moderation
from liveroom.rooms.in_room import (
    done,
    flag,
    live_context,
    refuse_action_on,
    require_moderator,
    require_staff,
    target_in,
)


def present_in(session: LiveSession, me: Participation | None) -> Participation:
    """The person's stay, present in this meeting (the page may name an older one)."""
    if me is None or me.left_at is not None:
        abort(403, _("You are not in this meeting any more. Reload the page to join again."))
    asked = request.values.get("session") or (request.get_json(silent=True) or {}).get("session")
    if asked is not None and str(asked) != str(session.id):
        abort(409, _("This meeting has ended. Reload the page."))
    return me


def kind_arg() -> Kind:
    try:
        return Kind(request.form.get("kind", ""))
    except ValueError:
        abort(400, _("“kind” must be mic, camera or screen."))


@bp.post("/rooms/<room:public_id>/media/state")
@login_required
def set_state(public_id: str) -> Response:
    """The person's browser turned its own microphone, camera or screen on or off."""
    room, session, me, rights = live_context(public_id)
    me = present_in(session, me)
    kind, on = kind_arg(), flag("on")
    decision = actions.set_own(me, rights.rank, kind, on)
    if not decision:
        db.session.rollback()
        abort(403, decision.reason)
    db.session.commit()
    return done(room)


@bp.get("/rooms/<room:public_id>/media/ice")
@login_required
def ice(public_id: str) -> Response:
    """This person's ICE servers, with a TURN credential minted now: asked before every
    ICE restart, so a connection that failed once its credential ran out gets a new
    one. Only for someone present in the meeting; never stored by the browser."""
    _room, session, me, _rights = live_context(public_id)
    present_in(session, me)
    response = jsonify(ice_configuration(current_app.config, me.user_id))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/rooms/<room:public_id>/media/signal")
@login_required
def signal(public_id: str) -> Response:
    """An offer, answer or ICE candidate for one other person in the meeting."""
    room, session, me, rights = live_context(public_id)
    me = present_in(session, me)
    try:
        message = signals.parse(request.get_json(silent=True))
    except signals.BadSignal as error:
        abort(400, str(error))
    if not signals.PACE.allow(me.id):
        abort(429, _("Too many signals from this page. It will connect again by itself."))
    if signals.recipient(me, message.to) is None:
        abort(404, _("That person is not in this meeting."))
    decision = signals.may_send(message, rights.rank, state_of(me), room_now(session))
    if not decision:
        abort(403, decision.reason)
    signals.store(me, message)
    db.session.commit()
    return Response(status=204)


def _acted_on(public_id: str, participation_id: int, what: str):
    """The meeting and the person an instructor acts on, after the rules."""
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    target = target_in(session, participation_id)
    if target.user_id == signed_in_user().id or not rules.may_act_on_media(
        rights.rank, moderation.rank_of(target)
    ):
        refuse_action_on(target, what)
    return room, session, target


def _turn_off(public_id: str, participation_id: int, kind: Kind, what: str) -> Response:
    """An instructor turns someone's ``kind`` off (nobody turns another's on)."""
    room, session, target = _acted_on(public_id, participation_id, what)
    actions.turn_off(target, kind, signed_in_user().id)
    db.session.commit()
    return done(room)


@bp.post("/rooms/<room:public_id>/media/people/<id:participation_id>/mute")
@login_required
def mute(public_id: str, participation_id: int) -> Response:
    return _turn_off(public_id, participation_id, Kind.MIC, "mute")


@bp.post("/rooms/<room:public_id>/media/people/<id:participation_id>/camera-off")
@login_required
def camera_off(public_id: str, participation_id: int) -> Response:
    return _turn_off(public_id, participation_id, Kind.CAMERA, "turn off the camera of")


@bp.post("/rooms/<room:public_id>/media/people/<id:participation_id>/stop-share")
@login_required
def stop_share(public_id: str, participation_id: int) -> Response:
    return _turn_off(public_id, participation_id, Kind.SCREEN, "stop the screen share of")


@bp.post("/rooms/<room:public_id>/media/people/<id:participation_id>/allow-unmute")
@login_required
def allow_unmute(public_id: str, participation_id: int) -> Response:
    room, session, target = _acted_on(public_id, participation_id, "allow to unmute")
    actions.allow_unmute(target, signed_in_user().id)
    db.session.commit()
    lift_strong_mutes(session, {target.user_id})
    return done(room)


@bp.post("/rooms/<room:public_id>/media/people/<id:participation_id>/stage")
@login_required
def stage_place(public_id: str, participation_id: int) -> Response:
    """Invite someone onto the stage (on=1) or take them off it (on=0)."""
    room, session, target = _acted_on(public_id, participation_id, "invite or move")
    actions.set_stage_place(target, flag("on"), signed_in_user().id)
    db.session.commit()
    return done(room)


@bp.post("/rooms/<room:public_id>/media/people/<id:participation_id>/share")
@login_required
def share_leave(public_id: str, participation_id: int) -> Response:
    """Allow a participant to share a screen (on=1), or stop allowing it (on=0)."""
    room, session, target = _acted_on(public_id, participation_id, "change screen sharing for")
    actions.set_share_leave(target, flag("on"), signed_in_user().id)
    db.session.commit()
    return done(room)


@bp.post("/rooms/<room:public_id>/media/mute-all")
@login_required
def mute_all(public_id: str) -> Response:
    """Every participant's microphone off; strong=1: no unmuting until allowed."""
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    strong = flag("strong")
    actions.mute_all(session, strong, signed_in_user().id)
    db.session.commit()
    if strong:
        hold_strong_mutes(session)
    return done(room)


@bp.post("/rooms/<room:public_id>/media/allow-all")
@login_required
def allow_all(public_id: str) -> Response:
    room, session, me, rights = live_context(public_id)
    require_moderator(rights)
    actions.allow_all(session, signed_in_user().id)
    db.session.commit()
    lift_strong_mutes(session)
    return done(room)


@bp.post("/rooms/<room:public_id>/media/stage-mode")
@login_required
def stage_mode(public_id: str) -> Response:
    """Who may publish: everyone, on request, or invite only. Staff only."""
    room, session, me, rights = live_context(public_id)
    require_staff(rights, "change who may use audio and video")
    try:
        mode = StageMode.from_key(request.form.get("mode", ""))
    except ValueError as error:
        abort(400, str(error))
    actions.set_stage_mode(session, mode, signed_in_user().id)
    db.session.commit()
    return done(room)
