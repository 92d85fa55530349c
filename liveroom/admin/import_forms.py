"""Forms of the CSV import (``imports.py``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, RadioField, SelectChoice
from wtforms.validators import AnyOf, DataRequired

from liveroom.csv_import import MEMBERSHIPS, USERS

KINDS = [
    SelectChoice(USERS, _l("Users")),
    SelectChoice(MEMBERSHIPS, _l("Channel members")),
]


class ImportForm(FlaskForm):
    kind = RadioField(_l("What the file holds"), choices=KINDS, default=USERS)
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file to import."))])


class ApplyForm(FlaskForm):
    """The previewed file, carried by the preview page so the apply step reads exactly
    the same bytes, and the digest of the plan the admin saw."""

    kind = HiddenField(validators=[AnyOf([USERS, MEMBERSHIPS])])
    content = HiddenField(validators=[DataRequired()])
    digest = HiddenField(validators=[DataRequired()])


class HandoutForm(FlaskForm):
    """Downloads an import's temporary passwords (``handouts.take``)."""

    token = HiddenField(validators=[DataRequired()])
