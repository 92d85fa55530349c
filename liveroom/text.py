"""Showing people's text safely: escaped, with web links made clickable."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# Links are found in the escaped text, so nothing the author typed can open a tag.
_URL = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn http(s) links into anchors that open in a new tab."""
    escaped = str(escape(text))
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(escaped):
        url = match.group(0)
        trail = ""
        while url and url[-1] in _TRAILING:
            # "see https://example.org." links to https://example.org
            trail = url[-1] + trail
            url = url[:-1]
        if url.endswith("&amp") or url.endswith("&amp;"):
            url, trail = url.rsplit("&amp", 1)[0], "&amp" + url.rsplit("&amp", 1)[1] + trail
        parts.append(escaped[last : match.start()])
        parts.append(
            f'<a href="{url}" rel="noopener noreferrer nofollow ugc" target="_blank">{url}</a>'
        )
        parts.append(trail)
        last = match.end()
    parts.append(escaped[last:])
    return Markup("".join(parts))
