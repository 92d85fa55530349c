"""Rendering helpers shared by the blueprints."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime

from babel.dates import format_date, format_time
from flask import Flask, has_request_context, render_template, request
from flask.globals import _cv_request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup, escape

from liveroom.auth.csrf_tokens import page_token
from liveroom.i18n import SOURCE
from liveroom.rooms.policy import may_see_my_rooms, shown_rank
from liveroom.settings import get_settings
from liveroom.text import initial, linkify


def wants_fragment() -> bool:
    """HTMX asked for a piece of a page (a history restore wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def page_or_fragment(page: str, fragment: str, **context: object) -> str:
    """The fragment for HTMX, the full page (which includes the fragment) otherwise."""
    return render_template(fragment if wants_fragment() else page, **context)


def iso_utc(moment: datetime | None) -> str:
    """A ``<time datetime>`` value: ISO 8601 in UTC to the second ("2026-11-28T09:16:05Z").

    The database keeps naive UTC times with microseconds, which HTML does not allow (at
    most three fraction digits); static/js/time.js turns these into the viewer's zone.
    """
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


# What each kind of ``local_time`` shows, cut from an ISO 8601 "2026-11-28T09:16:05".
SHOWN = {
    "time": lambda iso: iso[11:16],
    "seconds": lambda iso: iso[11:19],
    "datetime": lambda iso: f"{iso[:10]} {iso[11:16]}",
    "date": lambda iso: iso[:10],
}


def _shown(iso: str, kind: str) -> str:
    return SHOWN.get(kind, SHOWN["time"])(iso)


# What each kind shows in another language than English (Babel's CLDR patterns, in
# UTC): "28 nov 2026, 9:16" rather than ISO's "2026-11-28 09:16".
LOCAL_SHOWN = {
    "time": lambda moment, locale: format_time(moment, "short", tzinfo=UTC, locale=locale),
    "seconds": lambda moment, locale: format_time(moment, "medium", tzinfo=UTC, locale=locale),
    "datetime": lambda moment, locale: (
        f"{format_date(moment, 'medium', locale=locale)} "
        f"{format_time(moment, 'short', tzinfo=UTC, locale=locale)}"
    ),
    "date": lambda moment, locale: format_date(moment, "medium", locale=locale),
}


def _shown_in(moment: datetime, kind: str, locale: object) -> str:
    return LOCAL_SHOWN.get(kind, LOCAL_SHOWN["time"])(moment.replace(tzinfo=None), locale)


def local_time(moment: datetime, kind: str = "time", zone: bool = False) -> Markup:
    """A moment, stored in UTC, as a ``<time>`` that static/js/time.js shows in the
    viewer's own zone (UTC, the text written here, without JavaScript: ISO 8601 in
    English, the page's language's own pattern in another).

    kind: time, seconds, datetime or date; zone: name the zone ("09:16 EST") where the
    time stands alone. A filter rather than a Jinja macro: the attendance page shows
    a hundred and more, and a macro call costs several times this.
    """
    iso = iso_utc(moment)
    locale = get_locale()
    if locale is not None and locale.language != SOURCE:
        # The page's language writes its own (the script rewrites it in the viewer's zone).
        utc = moment if moment.tzinfo is None else moment.astimezone(UTC)
        text = _shown_in(utc, kind, locale)
    elif moment.tzinfo is None:  # as the database keeps them: the text is part of ``iso``
        text = _shown(iso, kind)
    else:
        text = _shown(moment.replace(microsecond=0, tzinfo=None).isoformat(), kind)
    if kind not in SHOWN:
        kind = escape(kind)
    if zone:
        return Markup(f'<time datetime="{iso}" data-local="{kind}" data-zone>{text} UTC</time>')
    return Markup(f'<time datetime="{iso}" data-local="{kind}">{text}</time>')


# Addresses remembered per process (each some tens of bytes); past this many the
# store starts again.
URLS_KEPT = 16384


def remembered_url_builder(app: Flask) -> Callable[..., str]:
    """Templates' ``url_for``: an address built once per process for the same endpoint
    and values, then remembered. A page builds a dozen (its header, menu, forms and
    links), each some fifty calls of Werkzeug's routing, for addresses that never
    change while the process runs. Kept per application root, since an app served
    under a path prefix (``SCRIPT_NAME``) puts it in front of each. Outside a request
    (the live hub's drawings), for external addresses (their host is the request's)
    and for endpoints relative to the request's blueprint, ``url_for`` itself."""
    known: dict[tuple, str] = {}
    build = app.url_for

    def remembered_url(endpoint: str, **values: Hashable) -> str:
        ctx = _cv_request.get(None)
        if ctx is None or endpoint[:1] == "." or values.get("_external"):
            return build(endpoint, **values)
        key = (ctx.request.root_path, endpoint, *sorted(values.items()))
        url = known.get(key)
        if url is None:
            if len(known) >= URLS_KEPT:
                known.clear()
            url = known[key] = build(endpoint, **values)
        return url

    return remembered_url


# Fragments kept per process (each a few hundred bytes); past this many the store
# starts again rather than tracking which went unused.
DRAWN_KEPT = 8192
# Whole lists and sections kept per process, counted in characters (one is some tens
# of thousands: 8 to 32 MB in all); past this that store starts again.
DRAWN_LIST_CHARS = 8_000_000


class Drawings:
    """Fragments drawn once per process and reused while what they show is the same.

    The items of long lists (channel cards, members, My Rooms, attendance lines, the
    people in a meeting) are drawn for every request that shows them, and drawing was
    most of those pages' time. A key must name everything the fragment shows (and the
    app's script root, for its links), so a renamed channel or a raised hand is a new
    key, never a stale drawing. The fragments are the autoescaped templates' own
    output. While templates reload as they are edited (development), nothing is kept.

    A whole list is kept too, under the exact sequence of its items (and a whole
    section under all the values it shows, ``drawn``): a page whose list has not
    changed costs one look-up rather than one per item.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.kept: dict[tuple, str] = {}
        self.lists: dict[tuple, str] = {}
        self.list_chars = 0

    def root(self) -> tuple[str, str]:
        """The links' root and the language the words are in: the request's, or (the
        live hub drawing for a whole audience, with no request) the root its URL
        adapter was bound to and the language it forced (liveroom/i18n.py)."""
        locale = str(get_locale())
        if has_request_context():
            return request.script_root, locale
        return self.app.config["APPLICATION_ROOT"], locale

    def get(self, key: tuple, draw: Callable[[], str]) -> str:
        if self.app.jinja_env.auto_reload:
            return draw()
        return self.rooted((self.root(), *key), draw)

    def rooted(self, key: tuple, draw: Callable[[], str]) -> str:
        """``get`` for a key that already names the root (its first value)."""
        html = self.kept.get(key)
        if html is None:
            if len(self.kept) >= DRAWN_KEPT:
                self.kept.clear()
            html = self.kept[key] = draw()
        return html

    def whole_list(self, key: tuple, draw: Callable[[], str]) -> str:
        """A whole list or section under ``key`` (which names the root and all it
        shows), kept apart from the small fragments and bounded by its size."""
        html = self.lists.get(key)
        if html is None:
            html = draw()
            if self.list_chars + len(html) > DRAWN_LIST_CHARS:
                self.lists.clear()
                self.list_chars = 0
            self.lists[key] = html
            self.list_chars += len(html)
        return html


def drawings_of(app: Flask) -> Drawings:
    return app.extensions["liveroom_drawings"]


def drawn_each_builder(drawings: Drawings) -> Callable[..., Markup]:
    """The filter ``items | drawn_each(template, **shared)``: each item drawn by
    ``template`` (as ``item``, beside ``shared``) through ``drawings``, and the whole
    list kept under the exact sequence of its items. Items are frozen values (named
    tuples, rows) that hold everything the fragment shows."""
    env = drawings.app.jinja_env

    def drawn_each(items: Iterable[Hashable], template: str, **shared: Hashable) -> Markup:
        fragment = env.get_template(template)
        if env.auto_reload:
            return Markup("".join(fragment.render(item=item, **shared) for item in items))
        items = tuple(items)
        common = (drawings.root(), template, *sorted(shared.items()))

        def draw_all() -> str:
            rooted = drawings.rooted
            return "".join(
                rooted((common, item), lambda item=item: fragment.render(item=item, **shared))
                for item in items
            )

        return Markup(drawings.whole_list((common, items), draw_all))

    return drawn_each


# What a drawing holds in place of the page's CSRF token: markup that no escaped text
# can produce (text's "<" becomes "&lt;"), swapped for the token as the drawing is
# used, so a section with a form is drawn once for everyone rather than per token.
TOKEN_MARK = Markup("<csrf-token>")


def _token_mark() -> Markup:
    return TOKEN_MARK


def drawn_builder(drawings: Drawings) -> Callable[..., Markup]:
    """The global ``drawn(template, **values)``: ``template`` drawn with ``values``
    once per process while they are the same (they must be all it shows: a page's
    section, such as a channel's members, a meeting's attendance or the page's
    header). Its forms' ``csrf_token()`` is this request's token, put in as the
    drawing is used."""
    env = drawings.app.jinja_env

    def drawn(template: str, **values: Hashable) -> Markup:
        fragment = env.get_template(template)
        if env.auto_reload:
            return Markup(fragment.render(**values))
        key = (drawings.root(), template, *sorted(values.items()))
        html = drawings.whole_list(key, lambda: fragment.render(csrf_token=_token_mark, **values))
        if TOKEN_MARK in html:
            html = html.replace(TOKEN_MARK, page_token())
        return Markup(html)

    return drawn


def register(app: Flask) -> None:
    app.jinja_env.filters["linkify"] = linkify
    app.jinja_env.filters["initial"] = initial
    # What a stay's person was in the room: Instructor (staff), Moderator, Participant.
    app.jinja_env.filters["room_badge"] = lambda stay: shown_rank(stay).badge
    app.jinja_env.filters["iso_utc"] = iso_utc
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["url_for"] = remembered_url_builder(app)
    drawings = app.extensions["liveroom_drawings"] = Drawings(app)
    app.jinja_env.filters["drawn_each"] = drawn_each_builder(drawings)
    app.jinja_env.globals["drawn"] = drawn_builder(drawings)

    @app.context_processor
    def menu_flags() -> dict:
        # The user itself rather than Flask-Login's proxy, which templates would
        # otherwise resolve again on every mention (dozens per page).
        user = current_user._get_current_object()
        if not user.is_authenticated:
            return {"current_user": user, "show_my_rooms": False, "show_admin": False}
        return {
            "current_user": user,
            "show_my_rooms": may_see_my_rooms(user, get_settings()),
            "show_admin": user.role.is_admin,
        }
