"""From a launch's LTI roles to a channel role, through the admin's mapping.

LTI 1.3 names roles by URI (``http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor``,
``…/membership/Instructor#TeachingAssistant``, ``…/institution/person#Administrator``);
LTI 1.1's short names (``Instructor``) still occur. Each is taken by its short name, the
part after ``#`` (else after the last ``/``), and looked up in the mapping; a role
the mapping does not name takes the ``*`` row ("any other role"). The highest channel
role among them wins: a teacher who is also a learner somewhere is a Manager.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from liveroom.extensions import db
from liveroom.models import LtiRoleMapping
from liveroom.roles import ChannelRole

OTHERS = "*"
# The defaults (as migration 0012 stores them).
DEFAULT_MAPPING: dict[str, ChannelRole] = {
    "Instructor": ChannelRole.MANAGER,
    "Administrator": ChannelRole.MANAGER,
    "TeachingAssistant": ChannelRole.MODERATOR,
    "ContentDeveloper": ChannelRole.CONTRIBUTOR,
    "Learner": ChannelRole.MEMBER,
    OTHERS: ChannelRole.MEMBER,
}
# Highest first (ChannelRole lists Manager first).
RANK = {role: rank for rank, role in enumerate(ChannelRole)}
ROLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")


def short_name(role: str) -> str:
    """``…membership/Instructor#TeachingAssistant`` → ``TeachingAssistant``."""
    role = role.strip()
    if "#" in role:
        return role.rsplit("#", 1)[1]
    return role.rstrip("/").rsplit("/", 1)[-1]


def current_mapping() -> dict[str, ChannelRole]:
    """The admin's mapping (the defaults where none is stored), with a ``*`` row."""
    rows = dict(
        db.session.execute(sa.select(LtiRoleMapping.lti_role, LtiRoleMapping.channel_role)).all()
    )
    mapping = rows or dict(DEFAULT_MAPPING)
    mapping.setdefault(OTHERS, ChannelRole.MEMBER)
    return mapping


def channel_role_for(lti_roles: list[str], mapping: dict[str, ChannelRole]) -> ChannelRole:
    """The highest channel role that any of ``lti_roles`` maps to."""
    found = [mapping.get(short_name(role), mapping[OTHERS]) for role in lti_roles if role]
    return min(found or [mapping[OTHERS]], key=RANK.__getitem__)


class MappingError(ValueError):
    """The mapping cannot be saved; the message says why."""


def save_mapping(mapping: dict[str, ChannelRole]) -> None:
    """Replace the stored mapping (the caller commits). Role names are LTI short
    names: letters, digits and ``_.-``; ``*`` must be there."""
    from flask_babel import gettext as _

    for name in mapping:
        if name != OTHERS and not ROLE_NAME.match(name):
            raise MappingError(
                _(
                    "“%(name)s” is not an LTI role name: use its short name, "
                    "such as Instructor or Learner.",
                    name=name,
                )
            )
    if OTHERS not in mapping:
        raise MappingError(_("Choose a channel role for any other LTI role."))
    db.session.execute(sa.delete(LtiRoleMapping))
    db.session.add_all(
        LtiRoleMapping(lti_role=name, channel_role=role) for name, role in mapping.items()
    )
