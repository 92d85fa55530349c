"""Command line for admins: ``flask --app liveroom COMMAND``.

Bad input prints one line on stderr and exits 1, with nothing changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import flask_migrate
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from liveroom import accounts, audit, backup, personal_data, retention
from liveroom.channels import manage
from liveroom.extensions import db
from liveroom.models import AuditEntry, Channel, LoginSession, Membership, User, utcnow
from liveroom.roles import AppRole, ChannelRole
from liveroom.rooms.meetings import channel_room
from liveroom.rooms.moderation import follow_roles
from liveroom.rooms.private import create_private_room, private_rooms_of
from liveroom.settings import change_settings, set_setting, stored_values
from liveroom.text import clean_line

BASELINE_REVISION = "0001_baseline"

users_cli = AppGroup("users", help="Manage user accounts.")
channels_cli = AppGroup("channels", help="Manage channels and their members.")
settings_cli = AppGroup("settings", help="Show and change site settings.")
people_cli = AppGroup("people", help="A person's data: export it, erase it.")


def fail(message: str) -> None:
    raise click.ClickException(message)


def find_user(username: str) -> User:
    key = clean_line(username).lower()
    user = db.session.scalar(sa.select(User).where(User.username == key))
    if user is None:
        fail(_("no user named '%(username)s'", username=username))
    return user


def find_channel(name: str) -> Channel:
    channel = db.session.scalar(sa.select(Channel).where(Channel.name == clean_line(name)))
    if channel is None:
        fail(_("no channel named '%(name)s'", name=name))
    return channel


def add_member(channel: Channel, user: User, role: ChannelRole) -> Membership:
    membership = db.session.scalar(
        sa.select(Membership).where(
            Membership.channel_id == channel.id, Membership.user_id == user.id
        )
    )
    if membership is None:
        membership = Membership(channel=channel, user=user, role=role)
        db.session.add(membership)
    else:
        membership.role = role
    return membership


def upgrade_database() -> None:
    """Create or upgrade the schema through the migrations (existing data is kept).

    A database made before migrations existed (by ``create_all``) holds the baseline
    schema: it is marked as such first, then upgraded like any other.
    """
    inspector = sa.inspect(db.engine)
    if inspector.has_table("user") and not inspector.has_table("alembic_version"):
        # Made by ``create_all``: as the current models describe it (nothing to do), or
        # as they were when migrations began (the baseline, then every revision).
        with db.engine.connect() as connection:
            current = not schema_differences(connection)
        flask_migrate.stamp(revision="head" if current else BASELINE_REVISION)
    flask_migrate.upgrade()


def schema_differences(connection: sa.Connection) -> list:
    """What Alembic finds between the database's schema and the models, leaving out
    indexes on expressions: Alembic compares those by their text, which PostgreSQL
    writes back in its own words (``room_role::text <> 'instructor'::text``), so on
    PostgreSQL they always look removed and added again."""
    on_expressions = {
        index.name
        for table in db.metadata.tables.values()
        for index in table.indexes
        if any(not isinstance(part, sa.Column) for part in index.expressions)
    }
    return [
        change
        for change in compare_metadata(MigrationContext.configure(connection), db.metadata)
        if not (change[0] in ("add_index", "remove_index") and change[1].name in on_expressions)
    ]


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database (same as ``flask db upgrade``; data is kept)."""
    upgrade_database()
    click.echo(_("Database ready."))


@click.command("version")
def version_command() -> None:
    """Print Liveroom's version (``flask --version`` prints Flask's)."""
    from liveroom import __version__

    click.echo(f"Liveroom {__version__}")


@users_cli.command("create")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--role",
    "role_key",
    default=None,
    help="An application role key; default: the defaultApplicationRole setting.",
)
@click.option("--display-name", default=None, help="Name shown to others.")
def create_user_command(
    username: str, password: str, role_key: str | None, display_name: str | None
) -> None:
    """Create a user account with an application role key."""
    try:
        username = accounts.clean_username(username)
        role = AppRole.from_key(role_key) if role_key else accounts.default_role()
        accounts.check_password_rules(password, username)
        name = accounts.clean_display_name(display_name or username)
    except ValueError as error:
        fail(str(error))
    if accounts.username_taken(username):
        fail(_("a user named '%(username)s' already exists", username=username))
    accounts.create_user(username, password, role, name)
    audit.record(None, "user_created", f"{username}: {role.value} (CLI)")
    db.session.commit()
    click.echo(_("Created %(username)s (%(role)s).", username=username, role=role.label))


@users_cli.command("set-role")
@click.argument("username")
@click.argument("role_key", metavar="ROLE")
def set_role_command(username: str, role_key: str) -> None:
    """Change a user's application role (a role key such as viewerRole or adminRole).

    Any meeting they are in follows at once: an admin made viewer there loses the
    instructor's controls without leaving.
    """
    try:
        role = AppRole.from_key(role_key.strip())
    except ValueError as error:
        fail(str(error))
    user = find_user(username)
    before = user.role
    user.role = role
    if before is not role:
        db.session.add(
            AuditEntry(
                action="user_role_changed",
                detail=f"{user.username}: {before.value} → {role.value} (CLI)",
            )
        )
    db.session.commit()
    follow_roles(user)
    click.echo(_("%(username)s is now %(role)s.", username=user.username, role=role.label))


@channels_cli.command("create")
@click.argument("name")
@click.option("--description", default="")
def create_channel_command(name: str, description: str) -> None:
    """Create a channel (its live room comes with it)."""
    name = clean_line(name)
    if not name or len(name) > 100:
        fail(_("channel names are 1 to 100 characters"))
    if db.session.scalar(sa.select(Channel.id).where(Channel.name == name)):
        fail(_("a channel named '%(name)s' already exists", name=name))
    try:
        manage.create_channel(name, description, None)
    except manage.ChannelError as error:
        fail(str(error))
    click.echo(_("Created channel %(name)s.", name=name))


@channels_cli.command("add-member")
@click.argument("channel_name")
@click.argument("username")
@click.option("--role", "role_key", required=True, help="manager|moderator|contributor|member")
def add_member_command(channel_name: str, username: str, role_key: str) -> None:
    """Add a user to a channel, or change their channel role."""
    try:
        role = ChannelRole.from_key(role_key)
    except ValueError as error:
        fail(str(error))
    channel = find_channel(channel_name)
    user = find_user(username)
    # The admin console's rules (the last Manager) and audit entry; someone in the
    # channel's meeting right now takes the new role there at once.
    try:
        manage.set_member(channel, user, role, None)
    except manage.ChannelError as error:
        fail(str(error))
    click.echo(
        _(
            "%(username)s is now %(role)s of %(channel)s.",
            username=user.username,
            role=role.label,
            channel=channel.name,
        )
    )


@settings_cli.command("set")
@click.argument("key")
@click.argument("value")
def set_setting_command(key: str, value: str) -> None:
    """Change a site setting (true/false, or a role key)."""
    try:
        change_settings({key: value}, None, note=" (CLI)")
    except ValueError as error:
        fail(str(error))
    click.echo(f"{key} = {stored_values()[key]}")


@settings_cli.command("show")
def show_settings_command() -> None:
    """Print every site setting."""
    for key, value in stored_values().items():
        click.echo(f"{key} = {value}")


@click.command("prune")
@with_appcontext
def prune_command() -> None:
    """Delete what the retention periods say is due, until nothing is left: ended
    meetings' events (LIVEROOM_EVENT_RETENTION_DAYS), their chat and attendance
    (LIVEROOM_RETENTION_DAYS). The server does the same a little at a time."""
    pruned = retention.prune(batches=None)
    click.echo(
        f"Removed {pruned.events} events, {pruned.chat_messages} chat messages, "
        f"the text of {pruned.deleted_texts} deleted messages, "
        f"{pruned.captions} caption lines, {pruned.attendance} stays, "
        f"{pruned.waiting_entries} waiting-room entries, {pruned.removals} removals "
        f"and {pruned.other} other rows."
    )


@click.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@with_appcontext
def backup_command(file: Path, force: bool) -> None:
    """Copy the SQLite database to FILE while the server runs (a consistent
    snapshot; the server keeps writing meanwhile)."""
    try:
        size = backup.backup_to(file, force)
    except backup.BackupError as error:
        fail(str(error))
    click.echo(
        ngettext(
            "Backed up to %(file)s (%(size)s byte).",
            "Backed up to %(file)s (%(size)s bytes).",
            size,
            file=file,
            size=f"{size:,}",
        )
    )


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(file: Path, yes: bool) -> None:
    """Replace the SQLite database's contents with the backup FILE. Stop the server
    first. Everyone logs in again; a backup from an older Liveroom is upgraded."""
    try:
        live = backup.sqlite_path()
        revision = backup.check_restorable(file)
    except backup.BackupError as error:
        fail(str(error))
    if not yes:
        click.confirm(
            _(
                "Replace everything in %(live)s with %(file)s? Stop the server first",
                live=live,
                file=file,
            ),
            abort=True,
        )
    backup.restore_from(file)
    ended = end_every_login()
    head, _code = backup.code_revisions()
    if revision != head:
        upgrade_database()
        click.echo(
            _("Upgraded the restored database to this Liveroom's schema (%(head)s).", head=head)
        )
    click.echo(
        ngettext(
            "Restored %(file)s into %(live)s; %(num)d log-in ended, everyone logs in again.",
            "Restored %(file)s into %(live)s; %(num)d log-ins ended, everyone logs in again.",
            ended,
            file=file,
            live=live,
        )
    )


def end_every_login() -> int:
    """After a restore: cookies from after the backup must not find their rows again
    (a log-out since would come undone)."""
    ended = db.session.execute(
        sa.update(LoginSession).where(LoginSession.ended_at.is_(None)).values(ended_at=utcnow())
    ).rowcount
    db.session.commit()
    return ended


@people_cli.command("export")
@click.argument("username")
@click.option("--output", type=click.Path(path_type=Path), help="Write to this file.")
def export_person_command(username: str, output: Path | None) -> None:
    """Print everything stored about a person as JSON (a GDPR or FERPA request)."""
    user = find_user(username)
    if output is not None and not output.parent.is_dir():
        fail(_("the folder %(folder)s does not exist", folder=output.parent))
    text = json.dumps(personal_data.export(user), indent=2, ensure_ascii=False)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(
            _(
                "Wrote everything stored about %(username)s to %(file)s.",
                username=user.username,
                file=output,
            )
        )


@people_cli.command("erase")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_person_command(username: str, yes: bool) -> None:
    """Erase a person: their account becomes an anonymous placeholder, what they
    wrote and their log-ins, memberships and rooms go; attendance counts stay."""
    user = find_user(username)
    try:
        personal_data.check_erasable(user)
    except personal_data.ErasureRefused as error:
        fail(str(error))
    if not yes:
        click.confirm(
            _(
                "Erase %(username)s (%(name)s) and everything they wrote? This cannot be undone",
                username=user.username,
                name=user.display_name,
            ),
            abort=True,
        )
    placeholder = personal_data.erase(user)
    click.echo(
        _(
            "Erased %(username)s: the account is now the anonymous %(placeholder)s.",
            username=username,
            placeholder=placeholder,
        )
    )


DEMO_PASSWORDS = {
    "admin": "liveroom-admin",
    "teacher": "liveroom-teacher",
    "student1": "liveroom-student",
    "student2": "liveroom-student",
}


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Load demo data (safe to run again) and print the logins."""
    upgrade_database()
    people = [
        ("admin", "Alex Admin", AppRole.ADMIN),
        ("teacher", "Maria Rivera", AppRole.PRIVATE_ONLY),
        ("student1", "Sam Lee", AppRole.VIEWER),
        ("student2", "Priya Patel", AppRole.VIEWER),
    ]
    users = {}
    for username, name, role in people:
        user = db.session.scalar(sa.select(User).where(User.username == username))
        users[username] = user or accounts.create_user(
            username, DEMO_PASSWORDS[username], role, name
        )
    channels = {}
    for name, description in [
        ("Biology 101", "Cells, genetics and ecosystems. Live lessons on Tuesdays and Thursdays."),
        ("Chemistry 202", "Reactions, bonding and lab safety."),
    ]:
        channel = db.session.scalar(sa.select(Channel).where(Channel.name == name))
        if channel is None:
            channel = Channel(name=name, description=description)
            db.session.add(channel)
        channels[name] = channel
    db.session.flush()
    memberships = [
        ("Biology 101", "teacher", ChannelRole.MANAGER),
        ("Biology 101", "student1", ChannelRole.MEMBER),
        ("Biology 101", "student2", ChannelRole.MEMBER),
        ("Chemistry 202", "teacher", ChannelRole.MODERATOR),
        ("Chemistry 202", "student1", ChannelRole.CONTRIBUTOR),
    ]
    for channel_name, username, role in memberships:
        add_member(channels[channel_name], users[username], role)
    set_setting("liveRoomEnabled", "true")
    set_setting("enableUserPrivateLiveRoom", "true")
    db.session.commit()
    for channel in channels.values():
        channel_room(channel)
    db.session.commit()
    if not private_rooms_of(users["teacher"]):
        create_private_room(users["teacher"], "Office hours")
    click.echo(_("Demo data ready. Log in as:"))
    for username, name, role in people:
        click.echo(f"  {username:<9} / {DEMO_PASSWORDS[username]:<17} {name} ({role.label})")


def register_cli(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(version_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(channels_cli)
    app.cli.add_command(settings_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(prune_command)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(people_cli)
    from liveroom.import_cli import import_cli  # the CSV import, a group of its own

    app.cli.add_command(import_cli)
