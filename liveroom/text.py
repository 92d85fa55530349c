"""Showing people's text safely: escaped, with web links made clickable."""

from __future__ import annotations

import re

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
