"""Showing people's text safely: escaped, with web links made clickable."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from markupsafe import Markup, escape

# Only http(s) addresses become links; quotes and angle brackets end an address, and
# every piece (the address included) is escaped before it reaches the page.
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}"


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn http(s) links into anchors that open in a new tab."""
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if url.count("(") > url.count(")") and match.group(0)[len(url) : len(url) + 1] == ")":
            url += ")"  # https://en.wikipedia.org/wiki/Foo_(bar) keeps its parenthesis
        end = match.start() + len(url)
        safe = escape(url)
        parts.append(str(escape(text[last : match.start()])))
        parts.append(
            f'<a href="{safe}" rel="noopener noreferrer nofollow ugc" target="_blank">{safe}</a>'
        )
        last = end
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))


# --- What people type: normalised before it is stored -----------------------------------

# Bidirectional controls (embeddings, overrides, isolates, marks): legitimate inside a
# right-to-left sentence, dangerous in a link, where they disguise the address.
BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _allowed(char: str, keep_newlines: bool) -> bool:
    if char == "\n":
        return keep_newlines
    if char == "\t":
        return keep_newlines
    category = unicodedata.category(char)
    # Cc: C0/C1 controls (NUL, ESC, ...); Cs: lone surrogates; Cn: unassigned. Format
    # characters (Cf) such as joiners and bidi marks stay: scripts need them.
    return category not in ("Cc", "Cs", "Cn")


def clean_text(raw: str, keep_newlines: bool = False) -> str:
    """``raw`` in Unicode NFC with control characters removed (newlines kept in chat).

    Carriage returns become newlines first, so Windows line ends survive as one break.
    """
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(char for char in text if _allowed(char, keep_newlines))


def clean_line(raw: str) -> str:
    """A one-line name: cleaned, inner runs of whitespace folded to one space."""
    return " ".join(clean_text(raw).split())


def name_key(name: str) -> str:
    """What makes two names "the same": NFKC case folding (Unicode's caseless match),
    as a fixed-length digest so the key fits its column however much folding grows it."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return hashlib.sha256(folded.encode()).hexdigest()
