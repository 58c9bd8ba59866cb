"""Extension points for higher apps, so ``members`` never imports them.

- **Timeline**: ``register_timeline_source(key, fn, permission=None)``; ``fn(member, user,
  limit)`` returns ``TimelineEntry`` items (visits, appointments, points, follow-ups…).
- **Profile tabs**: ``register_profile_tab(ProfileTab(...))``; the tab's template is
  included with the context its ``context`` callable returns.
- **Header badges**: ``register_header_badge(fn)``; ``fn(member)`` returns a ``Badge`` or None
  (the tier badge from loyalty).
- **Registration fields**: ``register_registration_field(RegistrationField(...))`` adds a
  field to the staff registration form (the referrer, from loyalty): resolved when the form
  is checked, saved inside ``member_register``'s transaction, so a refusal rolls the whole
  registration back and is shown on the field.
- **Import columns**: ``register_import_columns(ImportColumns(...))``: columns of an old
  system's export that a higher app owns (card, tier, points, spend, referrer, stored value
  from loyalty). The importer checks them per row, stages the checked values next to the
  person's id, and calls ``commit`` (set-based SQL over the staging table) inside the
  import's single transaction.
- **Merge**: ``register_merge_field(model, field_name)`` for every foreign key to ``Member``;
  ``member_merge`` moves those rows, and a system check fails if a foreign key to Member is
  not registered (so a later app cannot silently lose rows in a merge).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str
    title: str | Promise
    detail: str = ""
    icon: str = "bi-circle"
    url: str = ""
    staff: str = ""


@dataclass(frozen=True)
class TimelineSource:
    key: str
    fn: Callable[[Any, Any, int], Iterable[TimelineEntry]]
    permission: str | None = None


@dataclass(frozen=True)
class ProfileTab:
    key: str
    label: str | Promise
    template: str
    context: Callable[[Any, Any], dict] = field(default=lambda member, user: {})
    permission: str | None = None
    order: int = 100


@dataclass(frozen=True)
class Badge:
    label: str | Promise
    css: str = "text-bg-secondary"


@dataclass(frozen=True)
class MergeField:
    model: Any
    field_name: str
    # Rows that would clash on a unique constraint after the move are handled by this hook:
    # ``fn(source, target)`` runs before the bulk move, inside the merge transaction.
    before_move: Callable[[Any, Any], dict] | None = None


@dataclass(frozen=True)
class RegistrationField:
    """A field a higher app adds to the registration form.

    - ``field()`` builds the (optional) form field;
    - ``resolve(value, user)`` turns what was typed into what ``save`` needs, reading only,
      or raises a ``DomainError`` whose message the form shows on the field;
    - ``save(actor=, member=, value=)`` runs inside ``member_register``'s transaction after
      the person is saved; a ``DomainError`` rolls the registration back;
    - ``query_param`` fills the field from the registration URL (``?ref=<code>``).
    """

    name: str
    field: Callable[[], Any]
    resolve: Callable[[Any, Any], Any]
    save: Callable[..., Any]
    permission: str | None = None
    query_param: str | None = None
    order: int = 100


class ImportHandler:
    """One import's handling of a higher app's columns (built once per validation or commit).

    - ``check(row, err)``: ``row`` maps this app's field names to the cell text (already
      trimmed and NFKC-normalised) or a ``date``; returns the checked values (JSON-safe),
      calling ``err(column, message)`` for each problem (message translated);
    - ``value_maps()``: this app's fields whose values an old system names its own way (old
      tier names): ``{field: ValueMap}``; the mapping step offers a select of ``choices`` for
      every value ``accepts`` refuses;
    - ``finish(phone_in_file)``: after the last row of a validation, notices for the preview
      (rows that import with a warning, e.g. a referrer nobody has); ``phone_in_file(e164)``
      tells whether a valid row of the file has that phone;
    - ``commit(*, actor, job, table, key)``: set-based, inside the import's transaction:
      ``table`` is the staging table, one row per imported row with ``member_id`` (the person
      written or matched), ``row_no``, ``is_new`` and ``ext`` (jsonb; this app's checked values
      under ``ext->key``). Anything it raises rolls the whole import back. It must be
      idempotent per ``(job.source_digest, row_no)``.
    """

    def check(self, row: dict, err: Callable[[str, str], None]) -> dict:  # pragma: no cover
        raise NotImplementedError

    def value_maps(self) -> dict[str, ValueMap]:
        return {}

    def finish(self, phone_in_file: Callable[[str], bool]) -> list[dict]:
        return []

    def commit(self, *, actor, job, table: str, key: str) -> int:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class ValueMap:
    """Values of one import field that the mapping step maps: ``choices`` are ours
    (value, label); ``accepts(text)`` is True for a value the importer already reads."""

    choices: list[tuple[str, str]]
    accepts: Callable[[str], bool]


@dataclass(frozen=True)
class ImportColumns:
    """Columns a higher app takes in the member import: ``headers`` maps each header text (as
    old systems write it, and the English name) to a field name; ``labels`` maps the field
    name to the column name shown in errors; ``field_labels`` to the translated name offered
    in the mapping step; ``handler()`` builds an ``ImportHandler``."""

    key: str
    headers: dict[str, str]
    labels: dict[str, str]
    handler: Callable[[], ImportHandler]
    order: int = 100
    field_labels: dict[str, str | Promise] = field(default_factory=dict)


TIMELINE_SOURCES: dict[str, TimelineSource] = {}
REGISTRATION_FIELDS: dict[str, RegistrationField] = {}
PROFILE_TABS: dict[str, ProfileTab] = {}
HEADER_BADGES: list[Callable[[Any], Badge | None]] = []
MERGE_FIELDS: dict[tuple[str, str], MergeField] = {}
IMPORT_COLUMNS: dict[str, ImportColumns] = {}


def register_import_columns(columns: ImportColumns) -> None:
    IMPORT_COLUMNS[columns.key] = columns


def import_columns() -> list[ImportColumns]:
    return sorted(IMPORT_COLUMNS.values(), key=lambda c: c.order)


def register_timeline_source(
    key: str, fn: Callable[[Any, Any, int], Iterable[TimelineEntry]], permission: str | None = None
) -> None:
    TIMELINE_SOURCES[key] = TimelineSource(key, fn, permission)


def register_profile_tab(tab: ProfileTab) -> None:
    PROFILE_TABS[tab.key] = tab


def register_header_badge(fn: Callable[[Any], Badge | None]) -> None:
    if fn not in HEADER_BADGES:
        HEADER_BADGES.append(fn)


def register_registration_field(field: RegistrationField) -> None:
    REGISTRATION_FIELDS[field.name] = field


def registration_fields_for(user) -> list[RegistrationField]:
    """The registration fields this user may fill in, in order."""
    fields = [f for f in REGISTRATION_FIELDS.values() if not f.permission or user.has_perm(f.permission)]
    return sorted(fields, key=lambda f: f.order)


def register_merge_field(model, field_name: str, before_move: Callable | None = None) -> None:
    MERGE_FIELDS[(model._meta.label_lower, field_name)] = MergeField(model, field_name, before_move)


def timeline_for(member, user, limit: int = 50) -> list[TimelineEntry]:
    """All registered sources, newest first. A source the user may not see is skipped."""
    entries: list[TimelineEntry] = []
    for source in TIMELINE_SOURCES.values():
        if source.permission and not user.has_perm(source.permission):
            continue
        entries.extend(source.fn(member, user, limit))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def tabs_for(user) -> list[ProfileTab]:
    tabs = [t for t in PROFILE_TABS.values() if not t.permission or user.has_perm(t.permission)]
    return sorted(tabs, key=lambda t: t.order)


def badges_for(member) -> list[Badge]:
    return [b for b in (fn(member) for fn in HEADER_BADGES) if b is not None]


def unregistered_member_foreign_keys() -> list[str]:
    """Foreign keys to Member that no app registered for merging."""
    import pghistory.models

    from .models import Member

    missing = []
    for rel in Member._meta.get_fields(include_hidden=True):
        if not rel.is_relation or not rel.auto_created or rel.concrete or rel.many_to_many:
            continue
        model, name = rel.related_model, rel.field.name
        if model._meta.auto_created:
            continue  # the tags / served_branches tables: merged by member_merge itself
        if issubclass(model, pghistory.models.Event) or (model is Member and name == "merged_into"):
            continue  # history stays with the merged-away record, which is kept
        if (model._meta.label_lower, name) not in MERGE_FIELDS:
            missing.append(f"{model._meta.label_lower}.{name}")
    return missing
