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
