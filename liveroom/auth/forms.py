from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

# As long as ``User.username`` can be.
USERNAME_MAX = 64


class LoginForm(FlaskForm):
    # No Length check here: a name too long (or with control characters) is a failed
    # log-in, checked by the view before any query (``could_be_a_username``).
    username = StringField(
        _l("Username"),
        validators=[DataRequired(_l("Enter your username."))],
        render_kw={"maxlength": USERNAME_MAX},
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=256)]
    )


class DisplayNameForm(FlaskForm):
    display_name = StringField(
        _l("Display name"),
        validators=[DataRequired(_l("Enter the name others see.")), Length(max=100)],
        render_kw={"maxlength": 100, "autocomplete": "name"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Choose a new password.")), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        _l("New password again"),
        validators=[DataRequired(_l("Type the new password again.")), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )


class LanguageForm(FlaskForm):
    """A person's language: one the site offers, or "" for the browser's (checked by
    the view against the languages offered now)."""

    locale = StringField(_l("Language"))
