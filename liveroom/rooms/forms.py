from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField


class NewRoomForm(FlaskForm):
    # Length and emptiness are checked by ``private.clean_room_name``, which trims
    # first, so the rule is the same for the form, the CLI and tests.
    name = StringField(_l("Room name"))


class RenameRoomForm(FlaskForm):
    name = StringField(_l("New name"))


class DeleteRoomForm(FlaskForm):
    """Delete (or archive) a room: the CSRF token only."""
