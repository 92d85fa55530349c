"""Admin: the Users page. Search, sort and page through every account; create one,
rename it, change its role, reset its password, deactivate or reactivate it. Every
action asks ``liveroom/admin/policy.py`` and is written to the audit log
(``liveroom/accounts.py`` records it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from liveroom import accounts, audit
from liveroom.admin import bp, policy
from liveroom.admin.user_forms import ActionForm, EditUserForm, NewUserForm
from liveroom.auth.identities import identities_of
from liveroom.extensions import db
from liveroom.models import User
from liveroom.roles import AppRole
from liveroom.rooms.moderation import follow_roles

PER_PAGE = 50
# Sort key -> the columns it orders by (each ends on a unique column, so paging is
# stable; each has an index: migration 0007).
SORTS = {
    "name": (User.display_name, User.id),
    "username": (User.username,),
    "role": (User.role, User.username),
    "created": (User.created_at, User.id),
}
SORT_LABELS = {
    "name": _l("Name"),
    "username": _l("Username"),
    "role": _l("Role"),
    "created": _l("Created"),
}


@dataclass
class UserList:
    """One page of the list, and what produced it (the links keep it)."""

    users: list[User]
    total: int
    page: int
    pages: int
    query: str
    sort: str
    descending: bool

    def link(self, **changes: object) -> str:
        args = {"q": self.query, "sort": self.sort, "dir": "desc" if self.descending else "asc"}
        args["page"] = self.page
        args.update(changes)
        args = {key: value for key, value in args.items() if value not in ("", None)}
        return url_for("admin.users", **args)

    def sort_link(self, key: str) -> str:
        descending = key == self.sort and not self.descending
        return self.link(sort=key, dir="desc" if descending else "asc", page=1)

    def found(self) -> str:
        shown = format_number(self.total)
        if self.query:
            return ngettext(
                "%(shown)s user found", "%(shown)s users found", self.total, shown=shown
            )
        return ngettext("%(shown)s user", "%(shown)s users", self.total, shown=shown)


def _matching(query: str) -> sa.ColumnElement[bool]:
    if not query:
        return sa.true()
    # lower() LIKE rather than ILIKE: a third of the time on PostgreSQL (10,000 rows).
    return sa.or_(
        User.username.contains(query.lower(), autoescape=True),
        sa.func.lower(User.display_name).contains(query.lower(), autoescape=True),
    )


def user_list(query: str, sort: str, descending: bool, page: int) -> UserList:
    """Two queries: the count and the page (each sort has its index: migration 0007)."""
    where = _matching(query)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(where))
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(max(page, 1), pages)
    order = [column.desc() if descending else column.asc() for column in SORTS[sort]]
    # The page's ids first, read from the sort's index alone, then their rows: a deep
    # page skips 9,950 index entries rather than 9,950 rows (5x faster on PostgreSQL).
    page_ids = (
        sa.select(User.id)
        .where(where)
        .order_by(*order)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    users = list(db.session.scalars(sa.select(User).where(User.id.in_(page_ids)).order_by(*order)))
    return UserList(users, total, page, pages, query, sort, descending)


def _require_manager() -> None:
    if not policy.may_manage_users(current_user):
        abort(403, _("Only administrators can manage users."))


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/users")
def users() -> Response:
    _require_manager()
    query = request.args.get("q", "").strip()[:100]
    sort = request.args.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    descending = request.args.get("dir") == "desc"
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and len(page) < 7 else 1
    listing = user_list(query, sort, descending, page)
    # A history restore (the Back button after a search) wants the whole page.
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        html = render_template(
            "admin/_users_table.html",
            listing=listing,
            labels=SORT_LABELS,
            oob=True,
            # A header or pager link changed the order: the form's controls follow
            # (not when the form itself asked: a select in use keeps its focus).
            sync_controls=request.headers.get("HX-Trigger") != "users-search",
        )
    else:
        html = render_template(
            "admin/users.html", listing=listing, labels=SORT_LABELS, action=ActionForm()
        )
    response = make_response(html)
    response.headers["Vary"] = "HX-Request"
    return response


def _show_password(user: User, password: str, created: bool) -> Response:
    """The temporary password, once: never stored in clear, never in a redirect."""
    html = render_template(
        "admin/user_password.html", user=user, password=password, created=created
    )
    return _no_store(make_response(html))


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> Response | tuple[str, int] | str:
    _require_manager()
    form = NewUserForm()
    if not form.is_submitted():
        form.role.data = accounts.default_role().value
    if form.validate_on_submit():
        try:
            username = accounts.clean_username(form.username.data)
        except accounts.AccountError as error:
            form.username.errors.append(str(error))
        else:
            if accounts.username_taken(username):
                form.username.errors.append(
                    _("There is already a user named %(username)s.", username=username)
                )
        try:
            name = accounts.clean_display_name(form.display_name.data)
        except accounts.AccountError as error:
            form.display_name.errors.append(str(error))
        chosen = form.password.data or ""
        problem = accounts.password_problem(chosen, form.username.data or "") if chosen else None
        if problem:
            form.password.errors.append(problem)
        if not (form.username.errors or form.display_name.errors or form.password.errors):
            password = chosen or accounts.temporary_password()
            role = AppRole.from_key(form.role.data)
            user = accounts.create_user(username, password, role, name)
            user.must_change_password = not chosen
            audit.record(current_user.id, "user_created", f"{username}: {role.value}")
            db.session.commit()
            if chosen:
                flash(
                    _("Created %(username)s (%(role)s).", username=username, role=role.label),
                    "success",
                )
                return redirect(url_for("admin.user", user_id=user.id), 303)
            return _show_password(user, password, created=True)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/user_new.html", form=form), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int) -> Response | tuple[str, int] | str:
    _require_manager()
    target = _user_or_404(user_id)
    form = EditUserForm(data={"display_name": target.display_name, "role": target.role.value})
    error = None
    if form.validate_on_submit():
        role = AppRole.from_key(form.role.data)
        error = policy.why_not_set_role(current_user, target, role)
        if error is None:
            try:
                renamed = accounts.rename(target, form.display_name.data, current_user)
            except accounts.AccountError as problem:
                form.display_name.errors.append(str(problem))
            else:
                changed_role = accounts.set_role(target, role, current_user)
                db.session.commit()
                if changed_role:
                    follow_roles(target)
                flash(_("Saved.") if renamed or changed_role else _("Nothing changed."), "success")
                return redirect(url_for("admin.user", user_id=target.id), 303)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "admin/user.html",
        target=target,
        form=form,
        action=ActionForm(),
        error=error,
        reset_refusal=policy.why_not_reset_password(current_user, target),
        deactivate_refusal=policy.why_not_deactivate(current_user, target),
        identities=identities_of(target.id),
    ), status


def _refuse(target: User, message: str) -> tuple[str, int]:
    return render_template(
        "admin/user.html",
        target=target,
        form=EditUserForm(data={"display_name": target.display_name, "role": target.role.value}),
        action=ActionForm(),
        error=message,
        reset_refusal=policy.why_not_reset_password(current_user, target),
        deactivate_refusal=policy.why_not_deactivate(current_user, target),
        identities=identities_of(target.id),
    ), 409


@bp.post("/users/<int:user_id>/password")
def reset_password(user_id: int) -> Response | tuple[str, int]:
    _require_manager()
    target = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    refusal = policy.why_not_reset_password(current_user, target)
    if refusal:
        return _refuse(target, refusal)
    password = accounts.reset_password(target, current_user)
    return _show_password(target, password, created=False)


@bp.post("/users/<int:user_id>/deactivate")
def deactivate(user_id: int) -> Response | tuple[str, int]:
    _require_manager()
    target = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    refusal = policy.why_not_deactivate(current_user, target)
    if refusal:
        return _refuse(target, refusal)
    if target.deactivated_at is None:
        left = accounts.deactivate(target, current_user)
        message = _(
            "%(username)s is deactivated and signed out everywhere.", username=target.username
        )
        if left:
            message += " " + ngettext(
                "They left %(num)d live meeting.", "They left %(num)d live meetings.", left
            )
        flash(message, "success")
    return redirect(url_for("admin.user", user_id=target.id), 303)


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int) -> Response:
    _require_manager()
    target = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if target.deactivated_at is not None:
        accounts.reactivate(target, current_user)
        flash(_("%(username)s can log in again.", username=target.username), "success")
    return redirect(url_for("admin.user", user_id=target.id), 303)
