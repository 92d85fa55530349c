from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField

from liveroom.media.rules import StageMode
from liveroom.settings import DEFAULT_ROLE_CHOICES, MINIMUM_ROLE_CHOICES


class SettingsForm(FlaskForm):
    live_room_enabled = BooleanField("Live Room module (liveRoomEnabled)")
    private_rooms_enabled = BooleanField("Private live rooms (enableUserPrivateLiveRoom)")
    private_room_minimum_role = SelectField(
        "Lowest role that gets My Rooms (privateRoomMinimumRole)",
        choices=[SelectChoice(role.value, role.label) for role in MINIMUM_ROLE_CHOICES],
    )
    open_in_new_tab = BooleanField("Open rooms in a new tab (openInNewTab)")
    default_stage_mode = SelectField(
        "Who may use audio and video when a meeting starts (defaultStageMode)",
        choices=[SelectChoice(mode.value, mode.label) for mode in StageMode],
    )
    default_application_role = SelectField(
        "Role of new accounts (defaultApplicationRole)",
        choices=[SelectChoice(role.value, role.label) for role in DEFAULT_ROLE_CHOICES],
    )
    hide_local_login = BooleanField(
        _l("Show only single sign-on on the log-in page (hideLocalLogin)")
    )
