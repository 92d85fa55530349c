"""Languages: Flask-Babel's gettext catalogues and which language a request speaks.

The catalogues live in ``liveroom/translations/<code>/LC_MESSAGES/messages.po``;
``make messages`` extracts the marked strings (``babel.cfg``) and updates them, and
``make setup`` compiles them to the ``.mo`` files the app reads. English is the
source language: its words are the seed's (Start Meeting, Join Meeting, My Rooms).

A request's language: the signed-in person's own choice, then the browser's
``Accept-Language``, then the site's default, always among the languages the site
offers (the admin's setting). The command line speaks the site's default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel.support import NullTranslations
from flask import Flask, g, has_request_context, request
from flask.globals import _cv_app
from flask_babel import Babel, get_locale, get_translations
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup
from sqlalchemy.orm.exc import DetachedInstanceError

TRANSLATIONS = "translations"
WORDLESS_ENDPOINTS = frozenset({"static", "vendor", "favicon", "health.healthz", None})


@dataclass(frozen=True)
class Language:
    code: str
    # The language's name in itself: what a person looks for in the list.
    name: str
    rtl: bool = False


LANGUAGES = {
    language.code: language
    for language in (
        Language("en", "English"),
        Language("es", "Español"),
        Language("ar", "العربية", rtl=True),
    )
}
SOURCE = "en"


def N_(message: str) -> str:
    """Marks a sentence for the catalogues (``make messages`` extracts ``N_``) and
    leaves it as it is: for words kept in English where they are defined (a role's
    name, which CSV files use in every language) and translated where they are shown."""
    return message


def offered() -> list[str]:
    """The codes the site offers, in the admin's order (English when unset)."""
    from liveroom.settings import offered_languages

    return offered_languages()


def site_default() -> str:
    from liveroom.settings import default_language

    return default_language()


def choose_locale() -> str:
    """The request's language (Flask-Babel's locale selector)."""
    chosen = getattr(g, "liveroom_locale", None)
    if chosen:
        return chosen
    if not has_request_context():
        return _site_language()
    codes = offered()
    own = _own_choice()
    if own in codes:
        return own
    best = request.accept_languages.best_match(codes)
    if best:
        return best
    default = site_default()
    return default if default in codes else codes[0]


def _site_language() -> str:
    """Outside a request (the command line, which has no browser and nobody signed
    in): the site's default language; English while the database cannot say (before
    ``init-db`` has made its tables)."""
    from liveroom.extensions import db

    try:
        return site_default()
    except Exception:
        db.session.rollback()
        return SOURCE


def _own_choice() -> str | None:
    """The signed-in person's chosen language, if any. The request resolves its
    language as it starts (``init_app``); a fragment drawn later for a whole audience
    (the live hub, outside this person's session) forces its own."""
    user = current_user._get_current_object()
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.locale
    except DetachedInstanceError:
        return None


def current_language() -> Language:
    return LANGUAGES.get(str(get_locale() or SOURCE), LANGUAGES[SOURCE])


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=choose_locale,
        default_translation_directories=TRANSLATIONS,
        default_domain="messages",
    )
    # In place of the ones Flask-Babel installs: the same words, a tenth of the cost.
    app.jinja_env.globals.update(
        _=_template_gettext,
        gettext=_template_gettext,
        ngettext=_template_ngettext,
        pgettext=_template_pgettext,
        npgettext=_template_npgettext,
    )

    @app.before_request
    def resolve_language() -> None:
        # Once, while the signed-in person is fresh (Flask-Babel keeps it for the
        # request); files and the health check speak no language.
        if request.endpoint not in WORDLESS_ENDPOINTS:
            get_locale()

    @app.context_processor
    def language() -> dict:
        here = current_language()
        return {"page_lang": here.code, "page_dir": "rtl" if here.rtl else "ltr"}


# --- Templates' gettext ------------------------------------------------------------
#
# A room panel says some 70 translated things. Through Flask-Babel's callables each cost
# about 25 µs (three nested Jinja calls and a dozen context-local lookups to find the
# catalogue again), a seventh of a Join's CPU. These find this context's catalogue once
# per locale in force (``force_locale`` sets a new one, so the hub's renders per
# language stay right) and behave as Jinja's "newstyle" gettext: autoescaped, and
# always a format string, so "%%" means "%" whether or not there are variables.


def _translations() -> NullTranslations:
    """This app context's catalogue, for the locale now in force."""
    app_ctx = _cv_app.get(None)
    babel_state = app_ctx.g.__dict__.get("_flask_babel") if app_ctx is not None else None
    if babel_state is not None:
        cached = babel_state.__dict__.get("liveroom_translations")
        locale = babel_state.__dict__.get("babel_locale")
        if cached is not None and locale is not None and cached[0] is locale:
            return cached[1]
    translations = get_translations()
    babel_state = app_ctx.g.__dict__.get("_flask_babel") if app_ctx is not None else None
    if babel_state is not None:
        locale = babel_state.__dict__.get("babel_locale")
        if locale is not None:
            babel_state.liveroom_translations = (locale, translations)
    return translations


def gettext(string: str, **variables: Any) -> str:
    """Flask-Babel's ``gettext``, through the catalogue found once per locale: for words
    said once per item of a long list (a role's name in each member's row)."""
    text = _translations().ugettext(string)
    return text % variables if variables else text


def _formatted(eval_ctx: EvalContext, text: str, variables: dict[str, Any]) -> str:
    if eval_ctx.autoescape:
        text = Markup(text)
    if not variables and "%" not in text:
        return text
    return text % variables


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, string: str, **variables: Any) -> str:
    return _formatted(eval_ctx, _translations().ugettext(string), variables)


@pass_eval_context
def _template_ngettext(
    eval_ctx: EvalContext, singular: str, plural: str, num: int, **variables: Any
) -> str:
    variables.setdefault("num", num)
    return _formatted(eval_ctx, _translations().ungettext(singular, plural, num), variables)


@pass_eval_context
def _template_pgettext(eval_ctx: EvalContext, context: str, string: str, **variables: Any) -> str:
    variables.setdefault("context", context)
    return _formatted(eval_ctx, _translations().upgettext(context, string), variables)


@pass_eval_context
def _template_npgettext(
    eval_ctx: EvalContext, context: str, singular: str, plural: str, num: int, **variables: Any
) -> str:
    variables.setdefault("context", context)
    variables.setdefault("num", num)
    return _formatted(
        eval_ctx, _translations().unpgettext(context, singular, plural, num), variables
    )
