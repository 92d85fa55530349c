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


def initial(name: str) -> str:
    """The letter an avatar shows: the first letter or digit of a name, never a format
    character (a lone right-to-left override would reorder the rest of the row)."""
    for char in name:
        if unicodedata.category(char)[0] in "LN":
            return char.upper()
    return "?"


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn http(s) links into anchors that open in a new tab."""
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if url.count("(") > url.count(")") and match.group(0)[len(url) : len(url) + 1] == ")":
            url += ")"  # https://en.wikipedia.org/wiki/Foo_(bar) keeps its parenthesis
        end = match.start() + len(url)
        if has_hidden_characters(url):
            continue  # stays plain text: an address that hides characters is not a link
        safe = escape(url)
        parts.append(str(escape(text[last : match.start()])))
        parts.append(
            # dir="ltr" isolates the address: an override before it cannot reverse it.
            f'<a href="{safe}" dir="ltr" rel="noopener noreferrer nofollow ugc" '
            f'target="_blank">{safe}</a>'
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


_OPENS_EMBEDDING = frozenset("\u202a\u202b\u202d\u202e")  # LRE RLE LRO RLO, closed by PDF
_OPENS_ISOLATE = frozenset("\u2066\u2067\u2068")  # LRI RLI FSI, closed by PDI
_PDF, _PDI = "\u202c", "\u2069"


def has_hidden_characters(text: str) -> bool:
    """Whether ``text`` holds invisible format characters (bidi controls, zero-width
    spaces and joiners, soft hyphens): fine in a sentence, never in a link."""
    return any(unicodedata.category(char) == "Cf" for char in text)


def balance_bidi(line: str) -> str:
    """``line`` with every bidi embedding, override and isolate closed where it ends,
    and stray closers dropped, so it cannot reorder the text that follows it, even
    where no ``<bdi>`` can wrap it (a page title, an <option>, an attribute)."""
    out: list[str] = []
    stack: list[str] = []
    for char in line:
        if char in _OPENS_EMBEDDING or char in _OPENS_ISOLATE:
            stack.append(char)
        elif char == _PDF:
            if not stack or stack[-1] not in _OPENS_EMBEDDING:
                continue
            stack.pop()
        elif char == _PDI:
            if not any(opener in _OPENS_ISOLATE for opener in stack):
                continue
            # A PDI closes its isolate and any embedding opened inside it.
            while stack.pop() not in _OPENS_ISOLATE:
                pass
        out.append(char)
    out.extend(_PDI if opener in _OPENS_ISOLATE else _PDF for opener in reversed(stack))
    return "".join(out)


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
    """``raw`` in Unicode NFC with control characters removed (newlines kept in chat),
    and every bidi control closed within its own line.

    Carriage returns and Unicode line separators become newlines first, so Windows
    line ends survive as one break. NFC comes last: removing a character can bring a
    letter and its accent together.
    """
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    text = "".join(char for char in text if _allowed(char, keep_newlines))
    # A paragraph (line) ends every embedding anyway; balance each on its own.
    text = "\n".join(balance_bidi(line) for line in text.split("\n"))
    return unicodedata.normalize("NFC", text)


def clean_line(raw: str) -> str:
    """A one-line name: cleaned, inner runs of whitespace (line breaks too) folded to
    one space."""
    line = " ".join(clean_text(raw, keep_newlines=True).split())
    return "" if is_blank(line) else line


def is_blank(text: str) -> bool:
    """Nothing to see: only spaces and invisible format characters."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)


def name_key(name: str) -> str:
    """What makes two names "the same": NFKC case folding (Unicode's caseless match),
    as a fixed-length digest so the key fits its column however much folding grows it."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    return hashlib.sha256(folded.encode()).hexdigest()
