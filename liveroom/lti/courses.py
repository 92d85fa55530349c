"""A course's channel: found by the platform and the course's ``context.id``, made on
the course's first launch and named after the course's title.

Channel names are unique, so when another channel already has the title (another
course of the same name, or a channel an admin made), the course's label (its short
name, "BIO-101") is added in brackets, else its id, else a number. A course renamed
in the platform keeps its channel and its channel's name (an admin may rename it);
the title and label it was launched with last are kept beside it.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from liveroom import audit
from liveroom.channels.manage import NAME_MAX
from liveroom.extensions import db
from liveroom.models import Channel, Room
from liveroom.text import clean_line, name_key

FIELD_MAX = 255
TRIES = 20


def _cut(text: str | None, most: int = FIELD_MAX) -> str:
    return clean_line(text or "")[:most]


def _with_suffix(title: str, suffix: str) -> str:
    suffix = f" ({_cut(suffix, 40)})"
    return title[: NAME_MAX - len(suffix)].rstrip() + suffix


def candidate_names(title: str, label: str, context_id: str) -> Iterator[str]:
    """The names to try, in order: the title, then with the label, then the id."""
    title = _cut(title, NAME_MAX) or _cut(label, NAME_MAX) or _cut(context_id, NAME_MAX)
    yield title
    for suffix in (label, context_id):
        if _cut(suffix) and _cut(suffix) != title:
            yield _with_suffix(title, suffix)
    for n in range(2, TRIES):
        yield _with_suffix(title, f"{_cut(label) or _cut(context_id, 30)} {n}")


def _linked(platform_key: str, context_id: str) -> Channel | None:
    return db.session.scalar(
        sa.select(Channel).where(
            Channel.lti_platform == platform_key, Channel.lti_context_id == context_id
        )
    )


def _name_taken(name: str) -> bool:
    return db.session.scalar(sa.select(Channel.id).where(Channel.name == name)) is not None


def channel_for_course(platform_key: str, context: dict) -> Channel:
    """The course's channel, made on its first launch (one transaction; two first
    launches at once make one channel: the unique (platform, context) constraint
    refuses the second, which then takes the first's). Commits."""
    context_id = _cut(str(context.get("id") or ""))
    title = _cut(context.get("title"))
    label = _cut(context.get("label"))
    if not context_id:
        raise ValueError("a launch without a course")
    for name in candidate_names(title, label, context_id):
        channel = _linked(platform_key, context_id)
        if channel is not None:
            if (channel.lti_context_title, channel.lti_context_label) != (title, label):
                channel.lti_context_title, channel.lti_context_label = title, label
                db.session.commit()
            return channel
        if _name_taken(name):
            continue
        channel = Channel(
            name=name,
            description="",
            lti_platform=platform_key,
            lti_context_id=context_id,
            lti_context_title=title,
            lti_context_label=label,
        )
        channel.room = Room(name=name, name_key=name_key(name))
        db.session.add(channel)
        try:
            db.session.flush()
            audit.record(None, "channel_created", f"{name} (LTI course {context_id})")
            db.session.commit()
        except IntegrityError:
            # The same course launched at the same moment, or the name just taken.
            db.session.rollback()
            continue
        return channel
    channel = _linked(platform_key, context_id)
    if channel is None:
        raise ValueError("no free name for the course's channel")
    return channel
