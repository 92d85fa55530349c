from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

# As long as ``User.username`` can be.
USERNAME_MAX = 64


class LoginForm(FlaskForm):
    # No Length check here: a name too long (or with control characters) is a failed
    # log-in, checked by the view before any query (``could_be_a_username``).
    username = StringField(
        "Username",
        validators=[DataRequired("Enter your username.")],
        render_kw={"maxlength": USERNAME_MAX},
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=256)]
    )


class DisplayNameForm(FlaskForm):
    display_name = StringField(
        "Display name",
        validators=[DataRequired("Enter the name others see."), Length(max=100)],
        render_kw={"maxlength": 100, "autocomplete": "name"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a new password."), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        "New password again",
        validators=[DataRequired("Type the new password again."), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
