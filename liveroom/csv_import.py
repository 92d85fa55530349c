"""Importing a class from a spreadsheet: users, and channel memberships, from CSV.

Two steps, for the admin page and the command line alike. ``preview`` reads the file
and says, line by line, what would be created or changed and every error with its
line number; it changes nothing. ``apply`` reads the same file again, checks that its
plan is still exactly the one previewed (``Plan.digest``), and applies every line in
one transaction, or none: any error leaves the database as it was.

Files (``FORMATS``): UTF-8 with or without a byte order mark, comma or semicolon
separated (whichever the header line holds more of), at most 2 MB and 10,000 lines
after the header. Role names are the role keys or their labels, in any case
("viewerRole", "Viewer"; "manager", "Manager"). A cell that starts with an apostrophe
followed by = + - @ tab, CR or another apostrophe loses that apostrophe: it is the
guard our exports (``csv_export.py``) put before cells a spreadsheet would run as a
formula, so an export imports back unchanged.

An import never changes an existing account's password (a password given for one is
ignored, and the preview says so), never deactivates or reactivates anyone (the
``active`` column of a users export is accepted and ignored) and never removes a
membership; it refuses to demote a channel's last Manager.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import format_number
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from liveroom import accounts, audit, handouts
from liveroom.extensions import db
from liveroom.models import Channel, Membership, Participation, User, sort_name_of
from liveroom.roles import AppRole, ChannelRole
from liveroom.text import clean_line

USERS = "users"
MEMBERSHIPS = "memberships"
MAX_BYTES = 2 * 1024 * 1024
MAX_LINES = 10_000
# kind -> (required columns, optional columns)
FORMATS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    USERS: (("username", "display_name", "role"), ("password", "email", "active")),
    MEMBERSHIPS: (("channel", "username", "channel_role"), ()),
}
# What a formula guard stands before (``csv_export.guard``).
# A temporary password is random (about 67 bits), so a slow hash adds nothing against
# guessing it, and scrypt's 0.2 to 0.7 s each would make a class of 1,000 take minutes:
# a quick salted PBKDF2 instead; the person's own password, chosen at the first
# log-in, gets the site's usual scrypt.
TEMPORARY_HASH = "pbkdf2:sha256:1000"
GUARDED = ("=", "+", "-", "@", "\t", "\r", "'")
_ACTIVE = {"": None, "yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


class FileRefused(ValueError):
    """The whole file is refused (its size, encoding, columns): nothing is read further."""


class PreviewOutdated(ValueError):
    """Applying a file whose plan is not the one previewed (the data changed since)."""


@dataclass
class Line:
    """One line of the file and what it would do: ``action`` is "create", "change",
    "unchanged" or "error"; ``changes`` says what in words; ``notes`` what is ignored."""

    number: int
    key: str
    action: str = "unchanged"
    changes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Plan:
    kind: str
    lines: list[Line]
    # The rows to write, by line number (only meaningful when there is no error).
    work: dict[int, dict] = field(default_factory=dict)

    @property
    def errors(self) -> list[Line]:
        return [line for line in self.lines if line.errors]

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, action: str) -> int:
        return sum(1 for line in self.lines if line.action == action)

    @property
    def digest(self) -> str:
        """Names this exact plan: the apply step compares it with the previewed one."""
        text = repr([(ln.number, ln.key, ln.action, ln.changes) for ln in self.lines])
        return hashlib.sha256(f"{self.kind}\n{text}".encode()).hexdigest()


@dataclass
class Result:
    kind: str
    created: int
    changed: int
    unchanged: int
    # (username, display name, temporary password) of users imported without one.
    passwords: list[tuple[str, str, str]] = field(default_factory=list)
    handout_token: str | None = None


# --- Reading the file -------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file's text; FileRefused when it is empty, too big or not UTF-8."""
    if len(data) > MAX_BYTES:
        raise FileRefused(
            _(
                "The file is larger than %(size)s MB.",
                size=format_number(MAX_BYTES // (1024 * 1024)),
            )
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRefused(
            _('The file is not UTF-8 text. In a spreadsheet, save it as "CSV UTF-8".')
        ) from None
    if "\x00" in text:
        raise FileRefused(_("The file is not a CSV text file."))
    if not text.strip():
        raise FileRefused(_("The file is empty."))
    return text


def delimiter_of(text: str) -> str:
    """Comma or semicolon, whichever the header line holds more of (a spreadsheet in a
    country that writes 1,5 saves its CSV with semicolons)."""
    header = text.splitlines()[0] if text else ""
    return ";" if header.count(";") > header.count(",") else ","


def read_rows(text: str, kind: str) -> list[tuple[int, dict[str, str]]]:
    """The data lines as (line number, {column: cell}), cells unguarded and stripped;
    FileRefused for a bad header or more than ``MAX_LINES`` lines. A line whose number
    of cells is wrong comes back with the key ``None`` holding the problem."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except csv.Error as error:
        raise FileRefused(f"Line 1: {error}.") from None
    columns = check_header(header, kind)
    rows: list[tuple[int, dict[str, str]]] = []
    number = reader.line_num + 1
    try:
        for cells in reader:
            start, number = number, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # blank lines (a spreadsheet's trailing ones) are skipped
            if len(rows) == MAX_LINES:
                raise FileRefused(
                    _(
                        "The file has more than %(lines)s lines: split it into smaller files.",
                        lines=format_number(MAX_LINES),
                    )
                )
            if len(cells) != len(columns):
                problem = _(
                    "%(values)s values, but the header has %(columns)s columns",
                    values=format_number(len(cells)),
                    columns=format_number(len(columns)),
                )
                rows.append((start, {None: problem}))  # type: ignore[dict-item]
                continue
            rows.append(
                (
                    start,
                    {col: unguard(cell).strip() for col, cell in zip(columns, cells, strict=True)},
                )
            )
    except csv.Error as error:
        raise FileRefused(_("Line %(number)s: %(error)s.", number=number, error=error)) from None
    return rows


def check_header(header: list[str], kind: str) -> list[str]:
    required, optional = FORMATS[kind]
    expected = ",".join(required)
    if optional:
        expected += " " + _("(optional: %(columns)s)", columns=",".join(optional))
    for name in header:
        if header.count(name) > 1:
            raise FileRefused(
                _(
                    "The column '%(name)s' appears twice. Expected: %(expected)s.",
                    name=name,
                    expected=expected,
                )
            )
        if name not in required + optional:
            hint = ""
            other = MEMBERSHIPS if kind == USERS else USERS
            if set(FORMATS[other][0]) <= set(header):
                hint = " " + _("This looks like a %(kind)s file.", kind=other)
            raise FileRefused(
                _(
                    "Unknown column '%(name)s'. Expected: %(expected)s.",
                    name=name,
                    expected=expected,
                )
                + hint
            )
    missing = [name for name in required if name not in header]
    if missing:
        raise FileRefused(
            _(
                "The column '%(name)s' is missing. Expected: %(expected)s.",
                name=missing[0],
                expected=expected,
            )
        )
    return header


def unguard(cell: str) -> str:
    """Undo the formula guard an export puts before a cell (see the module's doc)."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in GUARDED and cell[1:2] else cell


# --- Rules shared by both kinds ---------------------------------------------------


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot be a username (the accounts' rule), or None."""
    try:
        accounts.clean_username(username)
    except accounts.AccountError as error:
        return str(error)
    return None


def normal_username(raw: str) -> str:
    return unicodedata.normalize("NFC", raw.strip()).lower()


def app_role(name: str) -> AppRole | None:
    wanted = name.strip().casefold()
    for role in AppRole:
        if wanted in (role.value.casefold(), role.english.casefold()):
            return role
    return None


def channel_role(name: str) -> ChannelRole | None:
    wanted = name.strip().casefold()
    for role in ChannelRole:
        if wanted in (role.value, role.english.casefold()):
            return role
    return None


def email_problem(email: str) -> str | None:
    local, at, domain = email.partition("@")
    if (
        len(email) > 254
        or not at
        or not local
        or "." not in domain
        or any(c.isspace() for c in email)
        or "@" in domain
    ):
        return _("'%(email)s' is not an email address", email=email)
    return None


def _in_chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _users_named(usernames: Iterable[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for chunk in _in_chunks(sorted(set(usernames))):
        for user in db.session.scalars(sa.select(User).where(User.username.in_(chunk))):
            found[user.username] = user
    return found


# --- Preview ----------------------------------------------------------------------


def preview(kind: str, data: bytes, actor: User | None = None) -> Plan:
    """What importing ``data`` as a ``kind`` file would do, changing nothing.
    FileRefused when the file as a whole cannot be read."""
    if kind not in FORMATS:
        raise FileRefused(
            _("Unknown kind of file '%(kind)s' (expected users or memberships).", kind=kind)
        )
    rows = read_rows(decode(data), kind)
    if not rows:
        raise FileRefused(_("The file has a header but no lines to import."))
    if kind == USERS:
        return _plan_users(rows, actor)
    return _plan_memberships(rows)


def _plan_users(rows: list[tuple[int, dict]], actor: User | None) -> Plan:
    plan = Plan(USERS, [])
    existing = _users_named(normal_username(row.get("username") or "") for _, row in rows)
    first_seen: dict[str, int] = {}
    fallback_role = None
    for number, row in rows:
        username = normal_username(row.get("username") or "")
        line = Line(number, username)
        plan.lines.append(line)
        if None in row:
            line.errors.append(row[None])
            continue
        problem = username_problem(username)
        if problem:
            line.errors.append(problem)
        elif username in first_seen:
            line.errors.append(
                _(
                    "'%(username)s' is already on line %(number)s",
                    username=username,
                    number=first_seen[username],
                )
            )
        else:
            first_seen[username] = number
        name = clean_line(row["display_name"])
        if not name or len(name) > 100:
            line.errors.append(_("Display names are 1 to 100 characters."))
        if row["role"]:
            role = app_role(row["role"])
            if role is None:
                labels = ", ".join(r.english for r in AppRole)
                line.errors.append(
                    _(
                        "unknown role '%(role)s' (expected one of: %(labels)s)",
                        role=row["role"],
                        labels=labels,
                    )
                )
        else:
            fallback_role = fallback_role or accounts.default_role()
            role = fallback_role
        password = row.get("password", "")
        email = row.get("email", "") or None
        if "email" in row and email and (problem := email_problem(email)):
            line.errors.append(problem)
        if row.get("active", "").lower() not in _ACTIVE:
            line.errors.append(_("active is yes or no, not '%(value)s'", value=row["active"]))
        user = existing.get(username)
        if user is None and password and (problem := accounts.password_problem(password, username)):
            line.errors.append(problem)
        if line.errors:
            line.action = "error"
            continue
        work = {"username": username, "display_name": name, "role": role}
        if "email" in row:
            work["email"] = email
        if user is None:
            line.action = "create"
            line.changes.append(_("new %(role)s account", role=role.label))
            if not password:
                line.changes.append(_("temporary password"))
            work["password"] = password
        else:
            if password:
                line.notes.append(
                    _("password ignored: an import never changes an existing password")
                )
            if name != user.display_name:
                line.changes.append(
                    _("name %(before)s → %(after)s", before=user.display_name, after=name)
                )
            if role is not user.role:
                if actor is not None and user.id == actor.id:
                    line.errors.append(_("you cannot change your own role by import"))
                    line.action = "error"
                    continue
                line.changes.append(
                    _("role %(before)s → %(after)s", before=user.role.label, after=role.label)
                )
            if "email" in row and email != user.email:
                none = _("(none)")
                line.changes.append(
                    _(
                        "email %(before)s → %(after)s",
                        before=user.email or none,
                        after=email or none,
                    )
                )
            line.action = "change" if line.changes else "unchanged"
        plan.work[number] = work
    return plan


def _plan_memberships(rows: list[tuple[int, dict]]) -> Plan:
    plan = Plan(MEMBERSHIPS, [])
    users = _users_named(normal_username(row.get("username") or "") for _, row in rows)
    names = sorted({clean_line(row.get("channel") or "") for _, row in rows})
    channels: dict[str, Channel] = {}
    for chunk in _in_chunks(names):
        for channel in db.session.scalars(sa.select(Channel).where(Channel.name.in_(chunk))):
            channels[channel.name] = channel
    current: dict[tuple[int, int], ChannelRole] = {}
    admins: set[int] = {user.id for user in users.values() if user.role.is_admin}
    for chunk in _in_chunks([str(c.id) for c in channels.values()]):
        ids = [int(i) for i in chunk]
        for m in db.session.execute(
            sa.select(Membership.channel_id, Membership.user_id, Membership.role, User.role)
            .join(User, Membership.user_id == User.id)
            .where(Membership.channel_id.in_(ids))
        ):
            current[(m.channel_id, m.user_id)] = m[2]
            if m[3].is_admin:
                admins.add(m.user_id)
    first_seen: dict[tuple[int, int], int] = {}
    for number, row in rows:
        username = normal_username(row.get("username") or "")
        name = clean_line(row.get("channel") or "")
        line = Line(number, f"{name} / {username}")
        plan.lines.append(line)
        if None in row:
            line.errors.append(row[None])
            line.action = "error"
            continue
        channel = channels.get(name)
        user = users.get(username)
        role = channel_role(row["channel_role"])
        if channel is None:
            line.errors.append(_("no channel named '%(name)s'", name=name))
        if user is None:
            line.errors.append(_("no user named '%(username)s'", username=username))
        if role is None:
            labels = ", ".join(r.english for r in ChannelRole)
            line.errors.append(
                _(
                    "unknown channel role '%(role)s' (expected one of: %(labels)s)",
                    role=row["channel_role"],
                    labels=labels,
                )
            )
        if channel is not None and user is not None:
            pair = (channel.id, user.id)
            if pair in first_seen:
                line.errors.append(
                    _(
                        "'%(username)s' in '%(name)s' is already on line %(number)s",
                        username=username,
                        name=name,
                        number=first_seen[pair],
                    )
                )
            else:
                first_seen[pair] = number
        if line.errors:
            line.action = "error"
            continue
        before = current.get((channel.id, user.id))
        if before is None:
            line.action = "create"
            line.changes.append(_("new %(role)s", role=role.label))
        elif before is not role:
            line.action = "change"
            line.changes.append(f"{before.label} → {role.label}")
        plan.work[number] = {"channel": channel, "user": user, "role": role, "before": before}
    _refuse_last_manager_demotions(plan, current, admins)
    return plan


def _refuse_last_manager_demotions(
    plan: Plan, current: dict[tuple[int, int], ChannelRole], admins: set[int]
) -> None:
    """A channel's last Manager cannot be demoted: the lines that would leave a channel
    that has Managers without any are errors. As in ``channels.manage``, a Manager who
    is a site admin does not count: the channel needs someone of its own to run it."""
    demotions: dict[int, list[int]] = {}
    after: dict[int, set[int]] = {}
    for (channel_id, user_id), role in current.items():
        if role is ChannelRole.MANAGER and user_id not in admins:
            after.setdefault(channel_id, set()).add(user_id)
    had = {channel_id for channel_id, managers in after.items() if managers}
    for number, work in plan.work.items():
        channel_id, user_id = work["channel"].id, work["user"].id
        if work["role"] is ChannelRole.MANAGER and user_id not in admins:
            after.setdefault(channel_id, set()).add(user_id)
        elif work["before"] is ChannelRole.MANAGER:
            after.setdefault(channel_id, set()).discard(user_id)
            demotions.setdefault(channel_id, []).append(number)
    by_number = {line.number: line for line in plan.lines}
    for channel_id, numbers in demotions.items():
        if channel_id in had and not after.get(channel_id):
            for number in numbers:
                line = by_number[number]
                line.errors.append(
                    _(
                        "this would leave the channel without a Manager: make someone else "
                        "Manager in the same file first"
                    )
                )
                line.action = "error"
                del plan.work[number]


# --- Apply ------------------------------------------------------------------------


def apply(kind: str, data: bytes, digest: str | None, actor: User | None) -> Result:
    """Apply the file, all lines or none, in one transaction (the audit entry and the
    temporary passwords' handout with it). ``digest``: the previewed plan's, which
    must still be this plan's (None from the command line, whose preview and apply
    are one command). FileRefused or PreviewOutdated, with nothing changed, else."""
    plan = preview(kind, data, actor)
    if kind == MEMBERSHIPS and plan.ok:
        # Hold the channels' members still, then read them again under the locks: two
        # imports (or an import and a demotion on a page) cannot both take away the
        # last Manager.
        from liveroom.channels import manage

        for channel_id in sorted({work["channel"].id for work in plan.work.values()}):
            manage._lock_channel(channel_id)
        plan = preview(kind, data, actor)
    if not plan.ok:
        raise PreviewOutdated(_("The file has errors: nothing was imported. Preview it again."))
    if digest is not None and digest != plan.digest:
        raise PreviewOutdated(
            _(
                "Something changed since the preview (an account or membership was changed "
                "meanwhile): nothing was imported. Preview the file again."
            )
        )
    try:
        if kind == USERS:
            result, followers = _apply_users(plan, actor)
        else:
            result, followers = _apply_memberships(plan)
        audit.record(
            actor.id if actor else None,
            "csv_import",
            f"{kind}: {result.created} created, {result.changed} changed, "
            f"{result.unchanged} unchanged" + ("" if actor else " (CLI)"),
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise PreviewOutdated(
            _(
                "Something changed while importing (the same account or membership was "
                "created meanwhile): nothing was imported. Preview the file again."
            )
        ) from None
    except BaseException:
        db.session.rollback()
        raise
    if followers:
        from liveroom.rooms.moderation import follow_roles

        for user in followers:
            follow_roles(user)  # anyone in a live meeting takes their new role at once
    return result


def _apply_users(plan: Plan, actor: User | None) -> tuple[Result, list[User]]:
    existing = _users_named(work["username"] for work in plan.work.values())
    passwords: list[tuple[str, str, str]] = []
    followers: list[User] = []
    for line in plan.lines:
        work = plan.work[line.number]
        if line.action == "create":
            user = User(
                username=work["username"],
                display_name=work["display_name"],
                role=work["role"],
                email=work.get("email"),
            )
            password = work["password"]
            if password:
                user.set_password(password)
            else:
                password = accounts.temporary_password()
                user.must_change_password = True
                passwords.append((user.username, user.display_name, password))
                user.password_hash = generate_password_hash(password, method=TEMPORARY_HASH)
            db.session.add(user)
        elif line.action == "change":
            user = existing[work["username"]]
            if user.role is not work["role"]:
                followers.append(user)
            if user.display_name != work["display_name"]:
                # The people lists of a meeting they are in sort by the new name.
                db.session.execute(
                    sa.update(Participation)
                    .where(Participation.user_id == user.id, Participation.left_at.is_(None))
                    .values(sort_name=sort_name_of(work["display_name"]))
                )
            user.display_name = work["display_name"]
            user.role = work["role"]
            if "email" in work:
                user.email = work["email"]
    db.session.flush()
    # The command line (no actor) writes its own file; the admin page offers a download.
    token = handouts.keep(passwords, actor.id) if passwords and actor else None
    result = Result(
        USERS, plan.count("create"), plan.count("change"), plan.count("unchanged"), passwords, token
    )
    return result, followers


def _apply_memberships(plan: Plan) -> tuple[Result, list[User]]:
    followers: list[User] = []
    for line in plan.lines:
        work = plan.work[line.number]
        if line.action == "create":
            db.session.add(
                Membership(channel=work["channel"], user=work["user"], role=work["role"])
            )
        elif line.action == "change":
            membership = db.session.scalar(
                sa.select(Membership).where(
                    Membership.channel_id == work["channel"].id,
                    Membership.user_id == work["user"].id,
                )
            )
            membership.role = work["role"]
            followers.append(work["user"])
    db.session.flush()
    result = Result(
        MEMBERSHIPS, plan.count("create"), plan.count("change"), plan.count("unchanged")
    )
    return result, followers
