"""The Users page's forms (CSRF-protected, as every form in Liveroom)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from liveroom.accounts import DISPLAY_NAME_MAX, PASSWORD_MAX, USERNAME_MAX
from liveroom.roles import AppRole


def role_choices() -> list[SelectChoice]:
    """The roles, named in the request's language (called as each form is made)."""
    return [SelectChoice(role.value, role.label) for role in AppRole]


class NewUserForm(FlaskForm):
    username = StringField(
        _l("Username"),
        validators=[DataRequired(_l("Enter a username.")), Length(max=USERNAME_MAX)],
        render_kw={"maxlength": USERNAME_MAX, "autocomplete": "off", "spellcheck": "false"},
    )
    display_name = StringField(
        _l("Display name"),
        validators=[DataRequired(_l("Enter the name others see.")), Length(max=DISPLAY_NAME_MAX)],
        render_kw={"maxlength": DISPLAY_NAME_MAX},
    )
    role = SelectField(_l("Application role"), choices=role_choices)
    password = PasswordField(
        _l("Password (optional)"),
        validators=[Optional(), Length(max=PASSWORD_MAX)],
        render_kw={"autocomplete": "new-password"},
    )


class EditUserForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        validators=[DataRequired(_l("Enter the name others see.")), Length(max=DISPLAY_NAME_MAX)],
        render_kw={"maxlength": DISPLAY_NAME_MAX},
    )
    role = SelectField(_l("Application role"), choices=role_choices)


class ActionForm(FlaskForm):
    """A button's form: nothing but its CSRF token (reset, deactivate, reactivate)."""
