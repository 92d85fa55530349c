"""Forms of a channel's members (the channel page, the admin console) and of the
admin's channel settings. Flask-WTF gives each its CSRF token; lengths and emptiness
are ``manage``'s rules, checked after cleaning, so the form, the command line and the
tests say the same."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, TextAreaField

from liveroom.roles import ChannelRole

ROLE_CHOICES = [SelectChoice(role.value, role.label) for role in ChannelRole]


class AddMemberForm(FlaskForm):
    username = StringField("Username")
    role = SelectField("Channel role", choices=ROLE_CHOICES, default=ChannelRole.MEMBER.value)


class MemberRoleForm(FlaskForm):
    role = SelectField("Channel role", choices=ROLE_CHOICES)


class ConfirmForm(FlaskForm):
    """A button that changes something (remove, archive, end): the CSRF token only."""


class ChannelForm(FlaskForm):
    name = StringField("Channel name")
    description = TextAreaField("Description")
