"""Admin: importing users and channel members from CSV (preview, then apply) and
exporting them. The rules are ``liveroom/csv_import.py`` and ``csv_export.py``."""

from __future__ import annotations

from flask import (
    Response,
    abort,
    render_template,
    request,
    stream_with_context,
)
from flask_babel import gettext as _

from liveroom import csv_export, csv_import, handouts
from liveroom.admin import bp
from liveroom.admin.import_forms import ApplyForm, HandoutForm, ImportForm
from liveroom.auth.sessions import signed_in_user
from liveroom.wsgi_guard import accepts_upload

EXPORTS = {
    "users": csv_export.users_rows,
    "memberships": csv_export.memberships_rows,
}


def no_store(response: Response) -> Response:
    """Pages and files with passwords (or a file's content) are never kept by a cache."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.vary.add("HX-Request")
    return response


def import_page(status: int = 200, **context: object) -> Response:
    """The import page, or only its preview section when htmx asks."""
    template = (
        "admin/_import_preview.html" if request.headers.get("HX-Request") else "admin/import.html"
    )
    context.setdefault("form", ImportForm())
    context.setdefault("formats", csv_import.FORMATS)
    response = Response(render_template(template, **context), status)
    return no_store(response)


@bp.get("/import")
def import_csv() -> Response:
    handouts.forget_expired()
    return import_page()


@bp.post("/import/preview")
@accepts_upload
def import_preview() -> Response:
    form = ImportForm()
    if not form.validate_on_submit():
        return import_page(422, form=form, refused="; ".join(_errors(form)))
    data = form.file.data.read(csv_import.MAX_BYTES + 1)
    try:
        plan = csv_import.preview(form.kind.data, data, signed_in_user())
    except csv_import.FileRefused as refused:
        return import_page(422, form=form, refused=str(refused))
    apply_form = ApplyForm(
        formdata=None,
        prefix="apply",
        kind=form.kind.data,
        content=data.decode("utf-8-sig"),
        digest=plan.digest,
    )
    return import_page(200 if plan.ok else 422, form=form, plan=plan, apply_form=apply_form)


@bp.post("/import/apply")
@accepts_upload
def import_apply() -> Response:
    form = ApplyForm(prefix="apply")
    if not form.validate_on_submit():
        return import_page(422, refused=_("The preview was incomplete: choose the file again."))
    data = form.content.data.encode("utf-8")
    try:
        result = csv_import.apply(form.kind.data, data, form.digest.data, signed_in_user())
    except (csv_import.FileRefused, csv_import.PreviewOutdated) as refused:
        return import_page(409, refused=str(refused))
    handout = HandoutForm(formdata=None, token=result.handout_token)
    page = render_template(
        "admin/import_result.html", result=result, kept=handouts.KEPT_FOR, handout=handout
    )
    return no_store(Response(page))


@bp.post("/import/passwords")
def import_passwords() -> Response:
    """The temporary passwords as CSV: once, within ten minutes of the import. A POST,
    so the token travels in the body, never in an address a log or history keeps."""
    form = HandoutForm()
    content = handouts.take(form.token.data, signed_in_user().id) if form.validate() else None
    if content is None:
        abort(
            410,
            _(
                "These temporary passwords were downloaded already or have expired. "
                "Reset the passwords of the accounts concerned on the Users page."
            ),
        )
    response = Response(
        content,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="temporary-passwords.csv"'},
    )
    return no_store(response)


@bp.get("/export/<kind>.csv")
def export_csv(kind: str) -> Response:
    rows = EXPORTS.get(kind)
    if rows is None:
        abort(404)
    response = Response(
        stream_with_context(csv_export.csv_chunks(rows())),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="liveroom-{kind}.csv"'},
    )
    return no_store(response)


def _errors(form: ImportForm) -> list[str]:
    return [message for messages in form.errors.values() for message in messages]
