from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, SelectMultipleField, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from liveroom.i18n import LANGUAGES
from liveroom.media.rules import StageMode
from liveroom.settings import DEFAULT_ROLE_CHOICES, MINIMUM_ROLE_CHOICES


class SettingsForm(FlaskForm):
    # The labels name each setting's MediaSpace key, which stays as it is in every
    # language. Choices are listed as each form is made, in the request's language.
    live_room_enabled = BooleanField(_l("Live Room module (%(key)s)", key="liveRoomEnabled"))
    private_rooms_enabled = BooleanField(
        _l("Private live rooms (%(key)s)", key="enableUserPrivateLiveRoom")
    )
    private_room_minimum_role = SelectField(
        _l("Lowest role that gets My Rooms (%(key)s)", key="privateRoomMinimumRole"),
        choices=lambda: [SelectChoice(role.value, role.label) for role in MINIMUM_ROLE_CHOICES],
    )
    open_in_new_tab = BooleanField(_l("Open rooms in a new tab (%(key)s)", key="openInNewTab"))
    default_stage_mode = SelectField(
        _l(
            "Who may use audio and video when a meeting starts (%(key)s)",
            key="defaultStageMode",
        ),
        choices=lambda: [SelectChoice(mode.value, mode.label) for mode in StageMode],
    )
    default_application_role = SelectField(
        _l("Role of new accounts (%(key)s)", key="defaultApplicationRole"),
        choices=lambda: [SelectChoice(role.value, role.label) for role in DEFAULT_ROLE_CHOICES],
    )
    hide_local_login = BooleanField(
        _l("Show only single sign-on on the log-in page (hideLocalLogin)")
    )
    offered_languages = SelectMultipleField(
        _l("Languages offered (%(key)s)", key="offeredLanguages"),
        choices=[SelectChoice(code, language.name) for code, language in LANGUAGES.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    default_language = SelectField(
        _l("Default language (%(key)s)", key="defaultLanguage"),
        choices=[SelectChoice(code, language.name) for code, language in LANGUAGES.items()],
    )

    def validate_offered_languages(self, field: SelectMultipleField) -> None:
        if not field.data:
            raise ValidationError(_("Offer at least one language."))

    def validate_default_language(self, field: SelectField) -> None:
        if self.offered_languages.data and field.data not in self.offered_languages.data:
            raise ValidationError(_("The default language must be one of those offered."))
