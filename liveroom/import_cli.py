"""``flask --app liveroom import users|memberships FILE [--apply]``: the admin page's
CSV import on the command line (``liveroom/csv_import.py``). Without ``--apply`` it
previews; bad input prints one line per problem on stderr and exits 1, nothing changed.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import gettext as _
from flask_babel import ngettext

from liveroom import csv_import, handouts

import_cli = AppGroup("import", help="Import users or channel members from a CSV file.")

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _read(file: Path) -> bytes:
    with file.open("rb") as handle:
        return handle.read(csv_import.MAX_BYTES + 1)


def _describe(line: csv_import.Line) -> str:
    what = "; ".join(line.changes) or _("unchanged")
    notes = "".join(f" ({note})" for note in line.notes)
    return (
        _(
            "line %(number)s: %(action)s %(key)s: %(what)s",
            number=line.number,
            action=line.action,
            key=line.key,
            what=what,
        )
        + notes
    )


def _preview_or_fail(kind: str, file: Path) -> csv_import.Plan:
    try:
        plan = csv_import.preview(kind, _read(file))
    except csv_import.FileRefused as refused:
        raise click.ClickException(f"{file}: {refused}") from None
    for line in plan.errors:
        for message in line.errors:
            click.echo(
                _(
                    "Error: %(file)s: line %(number)s: %(message)s",
                    file=file,
                    number=line.number,
                    message=message,
                ),
                err=True,
            )
    if not plan.ok:
        raise click.ClickException(
            ngettext(
                "%(num)d line with errors: nothing was imported",
                "%(num)d lines with errors: nothing was imported",
                len(plan.errors),
            )
        )
    return plan


def _summary(plan: csv_import.Plan) -> str:
    return _(
        "%(create)s to create, %(change)s to change, %(unchanged)s unchanged",
        create=plan.count("create"),
        change=plan.count("change"),
        unchanged=plan.count("unchanged"),
    )


def _imported(result: csv_import.Result) -> str:
    return _(
        "Imported: %(created)s created, %(changed)s changed, %(unchanged)s unchanged.",
        created=result.created,
        changed=result.changed,
        unchanged=result.unchanged,
    )


@import_cli.command("users")
@click.argument("file", type=_FILE)
@click.option("--apply", "apply_", is_flag=True, help="Import (without it: preview only).")
@click.option(
    "--passwords",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write new users' temporary passwords here (needed when some have none).",
)
def import_users_command(file: Path, apply_: bool, passwords: Path | None) -> None:
    """Users: username,display_name,role[,password][,email]."""
    plan = _preview_or_fail(csv_import.USERS, file)
    # New users without a password of their own get a temporary one.
    needs_passwords = any(work.get("password") == "" for work in plan.work.values())
    if not apply_:
        for line in plan.lines:
            click.echo(_describe(line))
        click.echo(
            _("Preview: %(summary)s. Run again with --apply to import.", summary=_summary(plan))
        )
        return
    if needs_passwords and passwords is None:
        raise click.ClickException(
            _("some new users have no password: give --passwords FILE for their temporary ones")
        )
    if passwords is not None and passwords.exists():
        raise click.ClickException(_("%(file)s exists already: choose a new file", file=passwords))
    result = _apply(csv_import.USERS, file)
    if result.passwords and passwords is not None:
        # Readable by this account only: it holds passwords until handed out.
        descriptor = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
            out.write(handouts.as_csv(result.passwords))
        click.echo(
            ngettext(
                "Wrote %(num)d temporary password to %(file)s.",
                "Wrote %(num)d temporary passwords to %(file)s.",
                len(result.passwords),
                file=passwords,
            )
        )
    click.echo(_imported(result))


@import_cli.command("memberships")
@click.argument("file", type=_FILE)
@click.option("--apply", "apply_", is_flag=True, help="Import (without it: preview only).")
def import_memberships_command(file: Path, apply_: bool) -> None:
    """Channel members: channel,username,channel_role."""
    plan = _preview_or_fail(csv_import.MEMBERSHIPS, file)
    if not apply_:
        for line in plan.lines:
            click.echo(_describe(line))
        click.echo(
            _("Preview: %(summary)s. Run again with --apply to import.", summary=_summary(plan))
        )
        return
    result = _apply(csv_import.MEMBERSHIPS, file)
    click.echo(_imported(result))


def _apply(kind: str, file: Path) -> csv_import.Result:
    try:
        result = csv_import.apply(kind, _read(file), None, None)
    except (csv_import.FileRefused, csv_import.PreviewOutdated) as refused:
        raise click.ClickException(str(refused)) from None
    return result
