"""Forms of a channel's members (the channel page, the admin console) and of the
admin's channel settings. Flask-WTF gives each its CSRF token; lengths and emptiness
are ``manage``'s rules, checked after cleaning, so the form, the command line and the
tests say the same."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField

from liveroom.roles import ChannelRole


def role_choices() -> list[SelectChoice]:
    """The channel roles, named in the request's language (called as each form is made)."""
    return [SelectChoice(role.value, role.label) for role in ChannelRole]


class AddMemberForm(FlaskForm):
    username = StringField(_l("Username"))
    role = SelectField(_l("Channel role"), choices=role_choices, default=ChannelRole.MEMBER.value)


class MemberRoleForm(FlaskForm):
    role = SelectField(_l("Channel role"), choices=role_choices)


class ConfirmForm(FlaskForm):
    """A button that changes something (remove, archive, end): the CSRF token only."""


class ChannelForm(FlaskForm):
    name = StringField(_l("Channel name"))
    description = TextAreaField(_l("Description"))
