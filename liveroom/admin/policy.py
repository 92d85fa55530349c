"""Who may do what to whose account, in the admin area. Views call these; each
refusal comes back as the sentence the admin reads."""

from __future__ import annotations

from flask_babel import gettext as _

from liveroom import accounts
from liveroom.models import User
from liveroom.roles import AppRole


def may_manage_users(actor: User) -> bool:
    """Administrators manage accounts; nobody else sees the Users page."""
    return actor.is_authenticated and actor.role.is_admin


def why_not_reset_password(actor: User, target: User) -> str | None:
    if not may_manage_users(actor):
        return _("Only administrators can reset passwords.")
    if target.id == actor.id:
        return _("Change your own password on your Account page.")
    if accounts.uses_single_sign_on(target):
        return _(
            "%(username)s signs in through single sign-on: there is no password here.",
            username=target.username,
        )
    return None


def why_not_deactivate(actor: User, target: User) -> str | None:
    if not may_manage_users(actor):
        return _("Only administrators can deactivate accounts.")
    if target.id == actor.id:
        return _("You cannot deactivate your own account. Ask another administrator.")
    if target.role.is_admin and accounts.admins_other_than(target) == 0:
        return _(
            "%(username)s is the last active administrator. Make someone else admin first.",
            username=target.username,
        )
    return None


def why_not_set_role(actor: User, target: User, role: AppRole) -> str | None:
    if not may_manage_users(actor):
        return _("Only administrators can change roles.")
    losing_admin = target.role.is_admin and not role.is_admin
    if losing_admin and accounts.admins_other_than(target) == 0:
        return _(
            "%(username)s is the last active administrator: make someone else "
            "admin before changing this role.",
            username=target.username,
        )
    return None
