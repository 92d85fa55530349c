"""What a valid launch does: the person's account, the course's channel, their role
there. The views call ``arrive``; each step is its own rule (``courses``, ``roles``,
``channels.manage.set_member``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from liveroom.auth.identities import IdentityRefused, name_from_claims, sign_in_identity
from liveroom.channels import manage
from liveroom.lti import courses, platforms, roles
from liveroom.lti.launch import Launch, LaunchRefused
from liveroom.models import Channel, Membership, User
from liveroom.roles import ChannelRole


@dataclass(frozen=True)
class Arrival:
    user: User
    channel: Channel
    role: ChannelRole
    # The role the LTI roles asked for, when the channel kept another (its last Manager).
    kept_from: ChannelRole | None = None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _username_hint(launch: Launch) -> str | None:
    """The platform's username: OpenID's ``preferred_username``, or Moodle's own
    (the ``ext`` claim's ``user_username``)."""
    ext = launch.claim("ext")
    moodle = ext.get("user_username") if isinstance(ext, dict) else None
    return _text(launch.claims.get("preferred_username")) or _text(moodle)


def person(launch: Launch, platform_key: str) -> User:
    """The launching person's account, made with the site's default role on their
    first launch. Their identity's issuer is the registration's key (issuer and
    client id), so two schools on one Canvas issuer stay apart."""
    claims = launch.claims
    try:
        return sign_in_identity(
            "lti",
            platform_key,
            str(claims.get("sub") or ""),
            display_name=name_from_claims(claims),
            email=_text(claims.get("email")),
            username_hint=_username_hint(launch),
        )
    except IdentityRefused as error:
        raise LaunchRefused(_("You cannot sign in"), str(error), 403) from None


def set_role_from_lms(channel: Channel, user: User, wanted: ChannelRole) -> Arrival:
    """Their channel role follows the LMS, up or down; a live meeting follows it
    (``set_member``). The channel's last Manager keeps the role: a launch never
    leaves a channel without someone to run it."""
    try:
        membership = manage.set_member(channel, user, wanted, user)
    except manage.ChannelError:
        membership = manage.membership_of(channel.id, user.id)
        assert isinstance(membership, Membership)
        return Arrival(user, channel, membership.role, kept_from=wanted)
    return Arrival(user, channel, membership.role)


def arrive(launch: Launch) -> Arrival:
    """Sign the person in, find or make the course's channel, set their role."""
    platform = platforms.find(launch.issuer, launch.client_id)
    if platform is None:  # removed between the check and now
        raise LaunchRefused(_("This learning platform is not registered"), "", 403)
    context = launch.claim("context")
    if not isinstance(context, dict) or not context.get("id"):
        raise LaunchRefused(
            _("Open Liveroom from a course"),
            _("This launch names no course. Add Liveroom to a course and open it from there."),
        )
    user = person(launch, platform.key)
    channel = courses.channel_for_course(platform.key, context)
    lti_roles = launch.claim("roles") or []
    if not isinstance(lti_roles, list):
        lti_roles = []
    wanted = roles.channel_role_for(
        [r for r in lti_roles if isinstance(r, str)], roles.current_mapping()
    )
    return set_role_from_lms(channel, user, wanted)
