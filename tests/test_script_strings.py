"""The scripts' words: every sentence a script shows comes from the server's catalogue
(liveroom/script_strings.py), translated with the rest, and served per language as
JSON at a versioned address. A script that writes a sentence of its own, or says a key
the server does not have, fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask

from liveroom.script_strings import STRINGS, plural_samples
from tests.conftest import as_user

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "static" / "js"
STRINGS_JS = SCRIPTS / "media" / "strings.js"

# --- No sentence is built inside a script --------------------------------------------

# A literal is read as words when two words stand side by side, or it is a capitalised
# word ("Copied").
WORDS = re.compile(r"[^\W\d_]{2,}[ \u00a0]+[^\W\d_]")
CAPITALISED = re.compile(r"^[A-Z][a-z]+")
# What a literal may be an argument of, or compared with, without being words anyone
# reads: selectors, attribute and event names, keys, class names, log lines.
NON_TEXT_CONTEXT = re.compile(
    r"(?:\bsay|querySelector(?:All)?|closest|matches|getElementById|[gs]etAttribute|"
    r"hasAttribute|removeAttribute|toggleAttribute|addEventListener|removeEventListener|"
    r"CustomEvent|createElement|classList\.\w+|console\.\w+|Error|getItem|setItem|"
    r"\.key\s*===?|\.key\s*!==?|case)\s*\(?\s*$"
)
# Literals that are markup, selectors or addresses, never sentences.
NON_TEXT = re.compile(r"^\s*(?:<|#|\.|\[|/|[a-z-]+\[|use strict$|[A-Z][A-Za-z]*Error$)")
# Written by a script but never shown, or the same in every language (with why).
ALLOWED = {
    # htmx-ext-sse's error handler logs its argument; the page shows liveInterrupted.
    ("app.js", "Live updates stopped; opening the stream again."),
    # The zone's abbreviation after an ISO time in a title, in every language.
    ("time.js", " UTC"),
    # HTTP header names of the media script's requests.
    ("room-media.js", "Accept"),
    ("room-media.js", "Content-Type"),
    # Parts of catalogue keys: kind + "Toggle" ("micToggle"), "…Elsewhere" keys.
    ("room-media.js", "Toggle"),
    ("room-media.js", "Elsewhere"),
}
# strings.js holds the English fallback of the catalogue itself (checked below).
NOT_SCANNED = {STRINGS_JS}


def string_literals(source: str) -> list[tuple[int, str, str]]:
    """(line, text, the code before it on its line) of every string literal, comments
    skipped."""
    found = []
    i, line, n = 0, 1, len(source)
    line_start = 0
    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            line_start = i + 1
            i += 1
        elif source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i == -1 else i
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end == -1 else end + 2
            line += source.count("\n", i, end)
            i = end
        elif c in "\"'`":
            j = i + 1
            while j < n and source[j] != c:
                j += 2 if source[j] == "\\" else 1
            found.append((line, source[i + 1 : j], source[line_start:i]))
            line += source.count("\n", i, j)
            i = j + 1
        else:
            i += 1
    return found


def unmarked_in(path: Path) -> list[str]:
    offences = []
    for line, text, before in string_literals(path.read_text(encoding="utf-8")):
        if not (WORDS.search(text) or CAPITALISED.match(text)):
            continue
        if NON_TEXT.match(text) or NON_TEXT_CONTEXT.search(before):
            continue
        if (path.name, text) in ALLOWED:
            continue
        offences.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    return offences


def scripts() -> list[Path]:
    return sorted(p for p in SCRIPTS.rglob("*.js") if p not in NOT_SCANNED)


def test_the_lint_finds_a_sentence_built_in_a_script(tmp_path: Path) -> None:
    script = tmp_path / "page.js"
    script.write_text(
        '"use strict";\n'
        'box.textContent = "Link copied to the clipboard."; // a "quoted" comment\n'
        'el.querySelector("#people-list > li, li.person");\n'
        'label.textContent = S.say("copied");\n'
        'if (event.key === "Enter") send();\n'
        "note.textContent = 'Copied';\n",
        encoding="utf-8",
    )
    found = [line.split(": ", 1)[1] for line in unmarked_in_any(script, tmp_path)]
    assert found == ["'Link copied to the clipboard.'", "'Copied'"]


def unmarked_in_any(path: Path, root: Path) -> list[str]:
    """``unmarked_in`` for a file outside the repository (the lint's own test)."""
    offences = []
    for line, text, before in string_literals(path.read_text(encoding="utf-8")):
        if (WORDS.search(text) or CAPITALISED.match(text)) and not (
            NON_TEXT.match(text) or NON_TEXT_CONTEXT.search(before)
        ):
            offences.append(f"{path.relative_to(root)}:{line}: {text!r}")
    return offences


def test_no_script_builds_a_sentence_of_its_own() -> None:
    offences = [line for path in scripts() for line in unmarked_in(path)]
    assert not offences, (
        "Sentences built in scripts: add them to liveroom/script_strings.py (and the "
        "English fallback in static/js/media/strings.js) and say them by key:\n"
        + "\n".join(offences)
    )


# --- Every key a script says is on the server -----------------------------------------

SAID = re.compile(r"\bsay\(\s*[\"'](\w+)[\"']")
# Keys said through a variable: the media toggles' names (kind + "Toggle", for each
# kind of room-media.js's KINDS) and the roster's reason (liveroom/media/roster.py
# names why media is off by key: "needsMediaServer").
SAID_BY_NAME = {"micToggle", "cameraToggle", "screenToggle", "needsMediaServer"}


def keys_said() -> dict[str, str]:
    said = {}
    for path in sorted(SCRIPTS.rglob("*.js")):
        for key in SAID.findall(path.read_text(encoding="utf-8")):
            said.setdefault(key, str(path.relative_to(ROOT)))
    return said


def test_every_key_a_script_says_is_in_the_server_catalogue() -> None:
    said = keys_said()
    assert said, "the scripts say nothing through the catalogue?"
    missing = sorted(f"{key} ({where})" for key, where in said.items() if key not in STRINGS)
    missing += sorted(key for key in SAID_BY_NAME if key not in STRINGS)
    assert not missing, "Keys the scripts say that the server does not have: " + ", ".join(missing)


def js_fallback() -> dict[str, object]:
    """The English catalogue strings.js speaks until (or unless) the server's arrives."""
    source = STRINGS_JS.read_text(encoding="utf-8")
    body = source.split("var catalogue = {", 1)[1].split("\n  };", 1)[0]
    entries: dict[str, object] = {}
    for match in re.finditer(r'^\s*(\w+):\s*(\{.*?\}|"(?:[^"\\]|\\.)*")\s*,?\s*$', body, re.M):
        key, value = match.groups()
        if value.startswith("{"):
            entries[key] = {
                k: json.loads(v) for k, v in re.findall(r'(\w+):\s*("(?:[^"\\]|\\.)*")', value)
            }
        else:
            entries[key] = json.loads(value)
    return entries


def test_the_scripts_english_fallback_is_the_server_catalogues_english() -> None:
    fallback = js_fallback()
    english: dict[str, object] = {}
    for key, message in STRINGS.items():
        if isinstance(message, tuple):
            english[key] = {"one": message[0], "other": message[1]}
        else:
            english[key] = message
    assert fallback == english


# --- The catalogue, served ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "key", "words"),
    [
        ("es", "micToggle", "Micrófono"),
        ("es", "linkCopied", "Enlace copiado al portapapeles."),
        ("ar", "micToggle", "الميكروفون"),
        ("ar", "privatelyTo", "على انفراد إلى {name}"),
    ],
)
def test_the_catalogue_speaks_the_language_asked_for(
    client, code: str, key: str, words: str
) -> None:
    answer = client.get(f"/i18n/{code}.json")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    catalogue = answer.get_json()
    assert set(catalogue) == set(STRINGS)
    assert catalogue[key] == words


@pytest.mark.parametrize("code", ["es", "ar"])
def test_every_word_of_the_catalogue_is_translated(client, code: str) -> None:
    catalogue = client.get(f"/i18n/{code}.json").get_json()
    english = client.get("/i18n/en.json").get_json()
    # Words that are the same in the language: placeholders only.
    same_everywhere = {"refused", "chatFrom"}
    untranslated = sorted(
        key
        for key, words in catalogue.items()
        if key not in same_everywhere and words == english[key]
    )
    assert not untranslated, f"untranslated in {code}: {untranslated}"


def test_a_count_comes_in_each_plural_form_of_the_language(client) -> None:
    arabic = client.get("/i18n/ar.json").get_json()["newMessages"]
    assert set(arabic) == {"zero", "one", "two", "few", "many", "other"}
    assert arabic["two"] == "رسالتان جديدتان في الدردشة."
    assert arabic["few"] == "{n} رسائل جديدة في الدردشة."
    assert set(client.get("/i18n/en.json").get_json()["newMessages"]) == {"one", "other"}
    assert set(plural_samples("ar")) == set(arabic)


def test_the_page_names_its_languages_catalogue_at_an_address_kept_a_year(
    app: Flask, world
) -> None:
    world.user("sam")
    sam = as_user(app, "sam")
    page = sam.get("/channels/", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    found = re.search(r'<link rel="preload" id="liveroom-strings" href="([^"]+)"', page)
    assert found, "the page names no catalogue"
    address = found.group(1)
    assert address.startswith("/i18n/ar.json?v=")
    answer = sam.get(address)
    assert answer.status_code == 200
    assert "immutable" in answer.headers["Cache-Control"]
    assert "max-age=31536000" in answer.headers["Cache-Control"]
    # Without its version the answer is right but not kept.
    assert sam.get("/i18n/ar.json").headers["Cache-Control"] == "no-cache"


def test_an_unknown_language_has_no_catalogue(client) -> None:
    assert client.get("/i18n/xx.json").status_code == 404
    assert client.get("/i18n/EN.json").status_code == 404
