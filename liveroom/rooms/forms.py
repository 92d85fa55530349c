from flask_wtf import FlaskForm
from wtforms import StringField


class NewRoomForm(FlaskForm):
    # Length and emptiness are checked by the service, which trims first, so the
    # rule is the same for the form, the CLI and tests.
    name = StringField("Room name")
