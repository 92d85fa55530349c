"""Languages: every word a person reads is marked for translation, every catalogue
has every message, and the pages speak the language chosen (the person's own, the
browser's, the site's default), with Arabic right to left."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from liveroom.extensions import db
from liveroom.models import User
from liveroom.roles import AppRole, ChannelRole
from tests.conftest import World, as_user

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
TRANSLATIONS = ROOT / "liveroom" / "translations"
LANGUAGES = ("es", "ar")

# --- Every visible word in the templates is marked ---------------------------------

# Attributes people read (or hear): tooltips, alternatives, placeholders, accessible
# names and descriptions, the stacked tables' cell labels (shown by the CSS), a
# confirmation's question; and the value of a button-like input.
VISIBLE_ATTRIBUTES = {
    "title",
    "alt",
    "placeholder",
    "aria-label",
    "aria-description",
    "aria-roledescription",
    "aria-valuetext",
    "data-label",
    "hx-confirm",
    "hx-prompt",
}
BUTTON_INPUTS = {"submit", "button", "reset"}
# Elements whose text is not words to translate: code, file formats, scripts.
WORDLESS_ELEMENTS = {"code", "pre", "script", "style", "svg", "kbd", "samp"}
# Text that is the same in every language: the product's name, a zone's abbreviation
# (UTC, which the script replaces with the viewer's own).
ALLOWED = {"Liveroom", "UTC"}
# Where a Jinja expression, statement or comment was (keeps the HTML's shape).
HOLE = "\ue000"
LETTER = re.compile(r"[^\W\d_]")
GETTEXT_CALLS = {"_", "gettext", "ngettext", "pgettext", "npgettext", "_l", "lazy_gettext"}
# A string literal in an expression that reads as words: "All channels", "User created".
SENTENCE = re.compile(r"^[A-Z][a-z]+[ ,.:!?]")


def template_files() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def _unmarked_expression_strings(tokens: list) -> list[tuple[int, str]]:
    """String literals inside ``{{ }}``/``{% %}`` that read as sentences and are not
    an argument of a gettext call."""
    found = []
    calls: list[str | None] = []
    previous = None
    for lineno, kind, value in tokens:
        if kind == "whitespace":
            continue
        if value == "(":
            calls.append(previous[2] if previous and previous[1] == "name" else None)
        elif value == ")" and calls:
            calls.pop()
        elif kind in ("variable_end", "block_end"):
            calls.clear()
        elif kind == "string" and not set(calls) & GETTEXT_CALLS:
            text = value[1:-1]
            if SENTENCE.match(text):
                found.append((lineno, text))
        previous = (lineno, kind, value)
    return found


def markup_without_jinja(source: str, env: jinja2.Environment) -> tuple[str, list]:
    """The template's HTML with every Jinja part (and every ``{% trans %}`` block's
    text, which is marked) replaced by HOLE, its lines where they were; and the
    tokens of the Jinja parts."""
    out: list[str] = []
    lines = 1
    in_trans = False
    expecting_tag = False
    jinja_tokens = []
    for lineno, kind, value in env.lex(source):
        if lineno > lines:
            out.append("\n" * (lineno - lines))
            lines = lineno
        if kind == "data" and not in_trans:
            out.append(value)
            lines += value.count("\n")
            continue
        if kind == "block_begin":
            expecting_tag = True
        elif expecting_tag and kind == "name":
            if value == "trans":
                in_trans = True
            elif value == "endtrans":
                in_trans = False
            expecting_tag = False
        if kind == "data":  # inside {% trans %}: keep only its lines
            out.append(HOLE + "\n" * value.count("\n"))
            lines += value.count("\n")
            continue
        if not in_trans:
            jinja_tokens.append((lineno, kind, value))
        if kind in ("variable_begin", "block_begin", "comment_begin", "raw_begin"):
            out.append(HOLE)
        if kind in ("comment", "raw"):
            out.append("\n" * value.count("\n"))
            lines += value.count("\n")
    return "".join(out), jinja_tokens


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self.skipping: list[str] = []

    def _words(self, text: str) -> bool:
        text = text.replace(HOLE, " ")
        for word in ALLOWED:
            text = text.replace(word, " ")
        return bool(LETTER.search(text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            visible = name in VISIBLE_ATTRIBUTES or (
                name == "value"
                and tag in ("input", "button")
                and (values.get("type") or "").lower() in BUTTON_INPUTS
            )
            if visible and value and self._words(value):
                self.found.append((self.getpos()[0], f'{name}="{value.strip()}"'))
        if tag in WORDLESS_ELEMENTS:
            self.skipping.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping and self._words(data):
            self.found.append((self.getpos()[0], data.strip().replace(HOLE, "…")))


def unmarked_in(path: Path, env: jinja2.Environment, root: Path = ROOT) -> list[str]:
    source = path.read_text(encoding="utf-8")
    markup, tokens = markup_without_jinja(source, env)
    parser = _VisibleText()
    parser.feed(markup)
    parser.close()
    found = parser.found + _unmarked_expression_strings(tokens)
    name = path.relative_to(root)
    return [f"{name}:{line}: {text!r}" for line, text in sorted(found)]


@pytest.fixture(scope="module")
def jinja_env() -> jinja2.Environment:
    return jinja2.Environment(extensions=["jinja2.ext.i18n"])


def test_the_lint_finds_unmarked_words_and_says_where(
    jinja_env: jinja2.Environment, tmp_path: Path
) -> None:
    page = tmp_path / "templates" / "page.html"
    page.parent.mkdir()
    page.write_text(
        "{# a comment #}<h1>{{ _('Marked') }}</h1>\n"
        "<p>{% trans n=2 %}Also {{ n }} marked{% endtrans %}</p>\n"
        '<button title="Press me">{{ name }}</button>\n'
        '<input type="submit" value="Send"> <input type="text" value="data">\n'
        "<p>{{ 'All channels' if x else _('Fine') }}</p><code>username,role</code>\n"
        "<p>Liveroom · {{ count }}</p>\n"
        "<p>Forgotten</p>\n",
        encoding="utf-8",
    )
    found = unmarked_in(page, jinja_env, root=tmp_path)
    assert [line.split(": ", 1)[1] for line in found] == [
        "'title=\"Press me\"'",
        "'value=\"Send\"'",
        "'All channels'",
        "'Forgotten'",
    ]
    assert [line.split(":")[1] for line in found] == ["3", "4", "5", "7"]


def test_every_visible_word_in_the_templates_is_marked(jinja_env: jinja2.Environment) -> None:
    offences = [line for path in template_files() for line in unmarked_in(path, jinja_env)]
    assert not offences, "Words not marked for translation:\n" + "\n".join(offences)


# --- Every catalogue has every message ---------------------------------------------

MAKEFILE_KEYWORDS = ["--keywords", "_l", "--keywords", "lazy_gettext"]


def extract(into: Path) -> None:
    """``make messages``'s extraction, into ``into``."""
    pybabel = Path(sys.executable).parent / "pybabel"
    command = [str(pybabel), "extract", "--mapping-file", "babel.cfg", *MAKEFILE_KEYWORDS]
    command += ["--sort-by-file", "--no-wrap", "--output-file", str(into), "."]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)


def messages_of(path: Path) -> dict:
    with path.open("rb") as handle:
        return {(message.context, message.id): message for message in read_po(handle) if message.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    pot = tmp_path_factory.mktemp("messages") / "messages.pot"
    extract(pot)
    return messages_of(pot)


def test_the_committed_template_holds_every_marked_message(extracted: dict) -> None:
    committed = messages_of(TRANSLATIONS / "messages.pot")
    missing = sorted(str(key) for key in extracted.keys() - committed.keys())
    gone = sorted(str(key) for key in committed.keys() - extracted.keys())
    assert not missing and not gone, (
        f"messages.pot is stale: run make messages. New: {missing}; no longer marked: {gone}"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(extracted: dict, language: str) -> None:
    catalogue = messages_of(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po")
    problems = []
    for key in extracted:
        message = catalogue.get(key)
        strings = message and (
            message.string if isinstance(message.string, tuple) else (message.string,)
        )
        if message is None:
            problems.append(f"missing: {key!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        elif not all(strings):
            problems.append(f"untranslated: {key!r}")
    assert not problems, f"{language} catalogue:\n" + "\n".join(problems)


# --- The pages speak the chosen language ---------------------------------------------


def catalogue(language: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [language])


def in_language(client: FlaskClient, accept_language: str) -> FlaskClient:
    """``client``'s browser asks for ``accept_language`` on every request."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = accept_language
    return client


def html_of(response) -> str:
    return response.get_data(as_text=True)


def test_the_log_in_page_speaks_the_browsers_language(app: Flask) -> None:
    spanish = html_of(in_language(app.test_client(), "es-MX,es;q=0.9,en;q=0.5").get("/login"))
    assert '<html lang="es" dir="ltr">' in spanish
    assert "Inicia sesión en Liveroom" in spanish and "Log in to Liveroom" not in spanish

    arabic = html_of(in_language(app.test_client(), "ar").get("/login"))
    assert '<html lang="ar" dir="rtl">' in arabic
    assert "تسجيل الدخول إلى Liveroom" in arabic

    unknown = html_of(in_language(app.test_client(), "fr-FR,de").get("/login"))
    assert '<html lang="en" dir="ltr">' in unknown and "Log in to Liveroom" in unknown


def test_a_channel_page_in_spanish_names_mediaspaces_actions_in_spanish(
    app: Flask, world: World
) -> None:
    world.enable()
    world.user("teacher", AppRole.PRIVATE_ONLY)
    world.user("student")
    channel = world.channel(teacher=ChannelRole.MANAGER, student=ChannelRole.MEMBER)
    spanish = catalogue("es")

    teacher = html_of(in_language(as_user(app, "teacher"), "es").get(f"/channels/{channel}"))
    assert spanish.gettext("Start Meeting") in teacher and "Start Meeting" not in teacher
    assert "Mis salas" in teacher and "My Rooms" not in teacher  # the user menu
    assert "Tú: Responsable" in teacher  # the channel role, translated

    student = in_language(as_user(app, "student"), "es")
    assert spanish.gettext("Join Meeting") in html_of(student.get(f"/channels/{channel}"))
    listing = html_of(student.get("/channels/"))
    assert "Mis canales" in listing and "Biology 101" in listing  # names stay as typed


def test_the_channel_list_in_arabic_runs_right_to_left(app: Flask, world: World) -> None:
    world.user("student")
    world.channel("Biology 101", student=ChannelRole.MEMBER)
    page = html_of(in_language(as_user(app, "student"), "ar").get("/channels/"))
    assert '<html lang="ar" dir="rtl">' in page
    assert "قنواتي" in page and "<bdi>Biology 101</bdi>" in page


def test_a_persons_own_choice_beats_the_browser_and_holds_from_the_next_page(
    app: Flask, world: World
) -> None:
    world.user("student")
    student = in_language(as_user(app, "student"), "es")
    assert '<html lang="es"' in html_of(student.get("/account"))

    saved = student.post("/account/language", data={"locale": "ar"}, follow_redirects=True)
    assert '<html lang="ar" dir="rtl">' in html_of(saved)
    assert "حُفظت اللغة." in html_of(saved)  # the confirmation is in the new language
    assert '<html lang="ar"' in html_of(student.get("/channels/"))

    back = student.post("/account/language", data={"locale": ""}, follow_redirects=True)
    assert '<html lang="es"' in html_of(back)  # "Browser default": Accept-Language again
    with app.app_context():
        assert db.session.scalar(sa.select(User.locale).where(User.username == "student")) is None


def test_a_language_the_site_does_not_offer_is_refused_with_a_form_error(
    app: Flask, world: World
) -> None:
    world.user("student")
    world.settings(offeredLanguages="en,es")
    student = in_language(as_user(app, "student"), "es")
    for code in ("ar", "fr", "x" * 40):
        refused = student.post("/account/language", data={"locale": code})
        assert refused.status_code == 422
        assert "Elige un idioma de la lista." in html_of(refused)
    page = html_of(student.get("/account"))
    assert 'value="es" lang="es"' in page and 'value="ar"' not in page


def test_the_sites_offered_languages_limit_everyones_choice(app: Flask, world: World) -> None:
    world.user("student")
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "student"))
        user.locale = "ar"
        db.session.commit()
    student = as_user(app, "student")
    assert '<html lang="ar"' in html_of(in_language(student, "es").get("/channels/"))

    # Arabic no longer offered: their browser's language, then the site's default.
    world.settings(offeredLanguages="en,es", defaultLanguage="es")
    assert '<html lang="en"' in html_of(in_language(student, "en-GB").get("/channels/"))
    assert '<html lang="es"' in html_of(in_language(student, "ar,fr").get("/channels/"))
    visitor = in_language(app.test_client(), "ar")
    assert '<html lang="es" dir="ltr">' in html_of(visitor.get("/login"))


def test_the_admin_chooses_the_languages_offered_and_the_change_is_audited(
    app: Flask, world: World
) -> None:
    world.user("admin", AppRole.ADMIN, name="Alex Admin")
    admin = as_user(app, "admin")
    page = html_of(admin.get("/admin/settings"))
    assert "Languages offered (offeredLanguages)" in page and 'lang="ar">العربية' in page
    fields = {"private_room_minimum_role": "privateOnlyRole", "default_stage_mode": "everyone"}
    fields["default_application_role"] = "viewerRole"

    none = admin.post("/admin/settings", data={**fields, "default_language": "en"})
    assert none.status_code == 422 and "Offer at least one language." in html_of(none)
    outside = {**fields, "offered_languages": ["es", "ar"], "default_language": "en"}
    refused = admin.post("/admin/settings", data=outside)
    assert "The default language must be one of those offered." in html_of(refused)

    chosen = {**fields, "offered_languages": ["en", "es"], "default_language": "es"}
    saved = html_of(admin.post("/admin/settings", data=chosen, follow_redirects=True))
    assert "offeredLanguages: en,es,ar → en,es" in saved
    assert "defaultLanguage: en → es" in saved
    visitor = in_language(app.test_client(), "ar")
    assert '<html lang="es"' in html_of(visitor.get("/login"))


@pytest.mark.parametrize(
    "language, counts",
    [
        ("es", {1: "1 usuario", 3: "3 usuarios"}),
        (
            "ar",
            {1: "مستخدم واحد", 2: "مستخدمان", 3: "3 مستخدمين", 11: "11 مستخدمًا", 100: "100 مستخدم"},
        ),
    ],
)
def test_counts_take_the_languages_plural_forms(
    app: Flask, world: World, language: str, counts: dict[int, str]
) -> None:
    made = 0
    for count, words in counts.items():
        while made < count:
            made += 1
            world.user(f"user{made:03}", AppRole.ADMIN if made == 1 else AppRole.VIEWER)
        page = html_of(in_language(as_user(app, "user001"), language).get("/admin/users"))
        assert f'aria-live="polite">{words}</p>' in page, (count, words)


@pytest.mark.parametrize(
    "language, one, three",
    [
        ("es", "1 canal encontrado.", "3 canales encontrados."),
        ("ar", "عُثر على قناة واحدة.", "عُثر على 3 قنوات."),
    ],
)
def test_a_templates_plural_follows_the_count(
    app: Flask, world: World, language: str, one: str, three: str
) -> None:
    world.user("admin", AppRole.ADMIN)
    admin = in_language(as_user(app, "admin"), language)
    world.channel("Art")
    assert one in html_of(admin.get("/admin/channels"))
    world.channel("Biology")
    world.channel("Chemistry")
    assert three in html_of(admin.get("/admin/channels"))


def test_form_errors_are_in_spanish(app: Flask) -> None:
    refused = in_language(app.test_client(), "es").post("/login", data={"username": ""})
    page = html_of(refused)
    assert "Escribe tu nombre de usuario." in page and "Escribe tu contraseña." in page
    # WTForms' own messages too, from its catalogues.
    too_long = in_language(app.test_client(), "es").post(
        "/login", data={"username": "ana", "password": "x" * 300}
    )
    assert "El campo no puede tener más de 256 caracteres." in html_of(too_long)


def test_a_missing_page_answers_in_arabic(app: Flask) -> None:
    missing = in_language(app.test_client(), "ar").get("/nowhere-at-all")
    assert missing.status_code == 404
    page = html_of(missing)
    assert '<html lang="ar" dir="rtl">' in page
    assert "غير موجود" in page and "لا يوجد شيء في هذا العنوان." in page


def test_the_command_line_speaks_the_sites_default_language(
    app: Flask, world: World, runner: FlaskCliRunner
) -> None:
    world.settings(defaultLanguage="es")
    created = runner.invoke(args=["users", "create", "ana", "--password", "una clave bien larga"])
    assert created.exit_code == 0, created.output
    assert "Creado ana (Espectador)." in created.output
    missing = runner.invoke(args=["users", "set-role", "nadie", "viewerRole"])
    assert missing.exit_code != 0 and "no hay ningún usuario llamado 'nadie'" in missing.output


def test_csv_files_keep_english_role_names_in_any_language(app: Flask, world: World) -> None:
    world.user("admin", AppRole.ADMIN)
    admin = in_language(as_user(app, "admin"), "es")
    exported = admin.get("/admin/export/users.csv").get_data(as_text=True)
    assert exported.splitlines()[0] == "username,display_name,role,email,active"
    assert "adminRole" in exported
    data = {
        "kind": "users",
        "file": (io.BytesIO(b"username,display_name,role\nbea,Bea,Viewer\n"), "u.csv"),
    }
    preview = html_of(admin.post("/admin/import/preview", data=data))
    assert "cuenta nueva de Espectador" in preview  # "Viewer", read in English, shown in Spanish


def test_times_without_javascript_are_written_in_the_pages_language(
    app: Flask, world: World
) -> None:
    world.user("admin", AppRole.ADMIN)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "admin"))
        user.created_at = datetime(2026, 11, 28, 9, 16, 5)
        db.session.commit()
    admin = as_user(app, "admin")
    english = html_of(in_language(admin, "en").get("/admin/users"))
    assert '<time datetime="2026-11-28T09:16:05Z" data-local="date">2026-11-28</time>' in english
    spanish = html_of(in_language(admin, "es").get("/admin/users"))
    assert '<time datetime="2026-11-28T09:16:05Z" data-local="date">28 nov 2026</time>' in spanish
