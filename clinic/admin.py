"""Django admin, in Chinese, for HQ admins (everything) and branch managers (what their role
allows). Saves go through services so that every change is audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import (
    AutocompleteSelect,
    AutocompleteSelectMultiple,
    FilteredSelectMultiple,
)
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from import_export.admin import ImportExportMixin as _ImportExportMixin

from . import resources, services
from .errors import DomainError
from .fields import validate_no_hidden_characters, validate_no_hidden_characters_multiline
from .labels import audit_action_label, change_keys
from .models import (
    AuditLog,
    Branch,
    CalendarDay,
    JobHeartbeat,
    OpeningHours,
    ServiceCategory,
    ServiceItem,
    StaffProfile,
)
from .params import parse_int
from .roles import default_permissions, permission_label, role_difference
from .selectors import scope_to_branches, user_branch_ids

admin.site.site_header = _("Clinic CRM administration")
admin.site.site_title = _("Clinic CRM")
admin.site.index_title = _("Configuration")

_site_has_permission = admin.site.has_permission


def _has_verified_permission(request) -> bool:
    """The admin site refuses a session that has not passed two-step verification (for
    everyone who may open admin: clinic.two_factor.is_required)."""
    from .two_factor import is_required

    if not _site_has_permission(request):
        return False
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified()) or not is_required(request.user)


admin.site.has_permission = _has_verified_permission

User = get_user_model()


class ImportExportMixin(_ImportExportMixin):
    """django-import-export for the configuration tables: the export builds the change list
    from the address's filters, and a filter that names no field (a tampered or stale link)
    exports the whole scoped table instead of failing with a 500."""

    def get_export_queryset(self, request):
        try:
            return super().get_export_queryset(request)
        except (IncorrectLookupParameters, FieldError):
            return self.get_queryset(request)


def _valid_choices(widget, value):
    """The submitted ids an autocomplete widget can look up; a malformed one (e.g. "abc" for a
    number) would crash the lookup while re-rendering the invalid form (a 500)."""
    field = widget.field.remote_field.model._meta.get_field(
        getattr(widget.field.remote_field, "field_name", None)
        or widget.field.remote_field.model._meta.pk.name
    )
    valid = []
    for v in value:
        try:
            field.to_python(v)
        except ValidationError:
            continue
        valid.append(v)
    return valid


class SafeAutocompleteSelect(AutocompleteSelect):
    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, _valid_choices(self, value), attr)


class SafeAutocompleteSelectMultiple(AutocompleteSelectMultiple):
    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, _valid_choices(self, value), attr)


def _single_newlines(to_python):
    """Browsers post a textarea's line breaks as "\r\n": store "\n" (clinic.fields.LongTextField
    does the same for the app's forms), or saving a form unchanged rewrites every note."""

    def convert(value):
        value = to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value

    return convert


def keep_unchanged_fields(form, obj) -> None:
    """Every field of a change form the user did not touch keeps its stored value exactly.

    A form's widgets round values off: the admin's date-time inputs show whole seconds, so
    without this a save of an unchanged form drops the microseconds of every timestamp
    (``date_joined``, valid-from times…); tests/e2e/test_every_edit_form_round_trips.py."""
    from django.core.exceptions import FieldDoesNotExist

    stored = type(obj)._default_manager.filter(pk=obj.pk).first()
    if stored is None:
        return
    changed = set(form.changed_data)
    for name in form.fields:
        if name in changed:
            continue
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if getattr(field, "concrete", False) and not field.many_to_many:
            setattr(obj, field.attname, getattr(stored, field.attname))


class ClinicFormfieldsMixin:
    """The form fields of every admin and inline in the project: text fields refuse invisible
    control characters (clinic.fields) and store a textarea's line breaks as "\n", and
    autocomplete widgets survive malformed ids in a posted form."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(formfield, forms.CharField) and not isinstance(formfield, forms.TypedChoiceField):
            multiline = isinstance(db_field, models.TextField) or isinstance(formfield.widget, forms.Textarea)
            formfield.validators.append(
                validate_no_hidden_characters_multiline if multiline else validate_no_hidden_characters
            )
            if multiline:
                formfield.to_python = _single_newlines(formfield.to_python)
        return formfield

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ClinicAdmin(ClinicFormfieldsMixin, admin.ModelAdmin):
    """The base of every admin in the project (ClinicFormfieldsMixin's fields); a change form
    saved unchanged keeps every stored value."""

    def save_form(self, request, form, change):
        obj = super().save_form(request, form, change)
        if change and obj.pk is not None:
            keep_unchanged_fields(form, obj)
        return obj


# --- branch scoping ---------------------------------------------------------------------------
#
# Django admin shows branch-owned rows through the same scope as the app's views: a branch
# manager sees, and is offered in forms and filters, only their branches' rows. Every admin of
# branch-owned data derives from ``BranchScopedAdmin`` (or mixes in ``BranchScopedMixin``);
# every admin offers related rows through ``ScopedChoicesMixin``, so a foreign key to a
# branch, a login, a member or any branch-scoped model never lists another branch's rows.

_CHOICE_SCOPES: dict[type, Callable[[QuerySet, Any], QuerySet]] = {}


def register_choice_scope(model: type, scope: Callable[[QuerySet, Any], QuerySet]) -> None:
    """Offer rows of ``model`` in admin forms only through ``scope(qs, user)``. For models of
    higher apps that have no admin of their own (a member: ``members.selectors.scope_members``)."""
    _CHOICE_SCOPES[model] = scope


def _scope_users(qs: QuerySet, user) -> QuerySet:
    # Logins of staff who work at one of the user's branches; distinct: a login has many.
    ids = user_branch_ids(user)
    return qs if ids is None else qs.filter(staff__branches__in=ids).distinct()


register_choice_scope(Branch, lambda qs, user: scope_to_branches(qs, user, field="pk"))
register_choice_scope(User, _scope_users)


def scoped_choices(model: type, request, admin_site=None) -> QuerySet | None:
    """The rows of ``model`` that ``request.user`` may be offered, or None when ``model`` is
    not branch-owned (a tier, a service category)."""
    scope = _CHOICE_SCOPES.get(model)
    if scope is not None:
        return scope(model._default_manager.all(), request.user)
    model_admin = (admin_site or admin.site)._registry.get(model)
    if isinstance(model_admin, BranchScopedMixin):
        return model_admin.scope_queryset(model._default_manager.all(), request)
    return None


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """The sidebar filter over a related field lists only the rows the user may see."""

    def field_choices(self, field, request, model_admin):
        qs = scoped_choices(field.related_model, request, model_admin.admin_site)
        if qs is None:
            return super().field_choices(field, request, model_admin)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            qs = qs.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in qs]


class ScopedChoicesMixin:
    """Foreign keys, many-to-many fields and list filters offer only rows in the user's scope."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            qs = scoped_choices(db_field.related_model, request, self.admin_site)
            if qs is not None:
                kwargs["queryset"] = qs
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "queryset" not in kwargs:
            qs = scoped_choices(db_field.related_model, request, self.admin_site)
            if qs is not None:
                kwargs["queryset"] = qs
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and "__" not in item:
                field = self.model._meta.get_field(item)
                if (
                    field.is_relation
                    and scoped_choices(field.related_model, request, self.admin_site) is not None
                ):
                    item = (item, ScopedRelatedFieldListFilter)
            filters.append(item)
        return filters


class ClinicTabularInline(ScopedChoicesMixin, ClinicFormfieldsMixin, admin.TabularInline):
    """The base of every tabular inline: the admins' form fields and scoped choices (an inline
    of ``admin.TabularInline`` itself posts "\r\n" into its notes and offers every branch)."""


class ClinicStackedInline(ScopedChoicesMixin, ClinicFormfieldsMixin, admin.StackedInline):
    """The base of every stacked inline (see ClinicTabularInline)."""


class BranchScopedMixin(ScopedChoicesMixin):
    """Rows are visible only through ``branch_field``: the lookup path to the owning branch
    (``"branch"``, ``"member__branch"``), or a tuple of paths of which any may match. A row
    outside the user's scope answers 404, as in the app's views (not admin's redirect)."""

    branch_field: str | tuple[str, ...] = "branch"

    def scope_queryset(self, qs: QuerySet, request) -> QuerySet:
        return scope_to_branches(qs, request.user, field=self.branch_field)

    def get_queryset(self, request):
        return self.scope_queryset(super().get_queryset(request), request)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj


class AuditedAdmin(ScopedChoicesMixin, ClinicAdmin):
    """save/delete through ``record_save``/``record_delete``, so admin edits are audited."""

    def save_model(self, request, obj, form, change):
        try:
            services.record_save(actor=request.user, instance=obj)
        except (DomainError, ValidationError) as exc:
            # The form validated, so this is a race (e.g. a duplicate code saved meanwhile).
            messages.error(request, getattr(exc, "message", str(exc)))
            raise

    def delete_model(self, request, obj):
        services.record_delete(actor=request.user, instance=obj)

    def get_changelist_form(self, request, **kwargs):
        """The list_editable inputs sit under a column header, with no <label>: they are
        named by their field's label (WCAG 2 "label"; tests/e2e/test_accessibility.py)."""
        form = super().get_changelist_form(request, **kwargs)

        class LabelledChangelistForm(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                for field in self.fields.values():
                    field.widget.attrs.setdefault("aria-label", str(field.label))

        return LabelledChangelistForm

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            services.record_delete(actor=request.user, instance=obj)
        for obj in instances:
            services.record_save(actor=request.user, instance=obj)
        formset.save_m2m()


class BranchScopedAdmin(BranchScopedMixin, AuditedAdmin):
    """An audited admin of branch-owned configuration (chairs, shifts)."""


class ReadOnlyAdmin(ScopedChoicesMixin, ClinicAdmin):
    """Rows changed only by their services (ledgers, logs); admin shows them."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class BranchScopedReadOnlyAdmin(BranchScopedMixin, ReadOnlyAdmin):
    """A read-only admin of branch-owned rows (the points ledger, coupons, the audit log)."""


class OpeningHoursInline(ClinicTabularInline):
    model = OpeningHours
    extra = 0
    max_num = 7


@admin.register(Branch)
class BranchAdmin(ImportExportMixin, BranchScopedAdmin):
    resource_classes = [resources.BranchResource]
    branch_field = "pk"
    list_display = ["code", "name", "phone", "address", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "address"]
    inlines = [OpeningHoursInline]


@admin.register(CalendarDay)
class CalendarDayAdmin(BranchScopedAdmin):
    """A branch's closures and extra working days. The changelist warns when the national
    calendar of this year or the next is not in the chinesecalendar package yet."""

    list_display = ["day", "branch", "is_working_day", "note"]
    list_filter = ["branch", "is_working_day"]
    date_hierarchy = "day"

    def changelist_view(self, request, extra_context=None):
        from .workdays import missing_years

        for year in missing_years():
            messages.warning(
                request,
                _(
                    "The statutory holidays of %(year)s are not known yet: working days of %(year)s "
                    "count Monday to Friday. Upgrade the chinesecalendar package when the calendar "
                    "is published, or enter the holidays here as closures."
                )
                % {"year": year},
            )
        return super().changelist_view(request, extra_context)


@admin.register(ServiceCategory)
class ServiceCategoryAdmin(ImportExportMixin, AuditedAdmin):
    resource_classes = [resources.ServiceCategoryResource]
    list_display = ["code", "name", "name_en", "is_basic_care", "sort_order", "is_active"]
    list_editable = ["sort_order"]
    list_filter = ["is_basic_care", "is_active"]
    search_fields = ["code", "name", "name_en"]


@admin.register(ServiceItem)
class ServiceItemAdmin(ImportExportMixin, AuditedAdmin):
    resource_classes = [resources.ServiceItemResource]
    list_display = [
        "code",
        "name",
        "category",
        "price",
        "unit",
        "duration_minutes",
        "bookable_online",
        "is_active",
    ]
    list_filter = ["category", "is_active", "per_tooth", "bookable_online"]
    search_fields = ["code", "name", "name_en"]
    list_select_related = ["category"]
    autocomplete_fields = ["category"]


class StaffProfileForm(forms.ModelForm):
    class Meta:
        model = StaffProfile
        fields = ["user", "full_name", "role", "extra_roles", "job_title", "branches", "default_branch"]


@admin.register(StaffProfile)
class StaffProfileAdmin(BranchScopedMixin, ClinicAdmin):
    form = StaffProfileForm
    list_display = ["full_name", "user", "role", "job_title", "branch_list", "is_active"]
    list_filter = ["role", "branches", "user__is_active"]
    search_fields = ["full_name", "user__username", "job_title"]
    filter_horizontal = ["branches", "extra_roles"]
    autocomplete_fields = ["user"]

    branch_field = "branches"
    actions = ["reset_two_factor"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user").prefetch_related("branches")
        return qs.distinct()

    def has_reset_two_factor_permission(self, request) -> bool:
        return request.user.has_perm("clinic.reset_two_factor")

    @admin.action(description=_("Reset two-step verification (lost phone)"), permissions=["reset_two_factor"])
    def reset_two_factor(self, request, queryset):
        from .two_factor import two_factor_reset

        done = sum(1 for profile in queryset if two_factor_reset(actor=request.user, user=profile.user))
        messages.success(
            request,
            _(
                "Two-step verification reset for %(count)d staff member(s); they set it up again at their next log-in."
            )
            % {"count": done},
        )

    @admin.display(description=_("branches"))
    def branch_list(self, obj):
        return "、".join(b.name for b in obj.branches.all())

    @admin.display(description=_("active"), boolean=True)
    def is_active(self, obj):
        return obj.user.is_active

    def save_model(self, request, obj, form, change):
        # The profile and its groups change together in the staff services.
        pass

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        try:
            if change:
                services.staff_update(
                    actor=request.user,
                    profile=form.instance,
                    role=data["role"],
                    branches=data["branches"],
                    job_title=data["job_title"],
                    full_name=data["full_name"],
                    extra_roles=data["extra_roles"],
                )
            else:
                form.instance = services.staff_profile_create(
                    actor=request.user,
                    user=data["user"],
                    full_name=data["full_name"],
                    role=data["role"],
                    branches=data["branches"],
                    job_title=data["job_title"],
                    extra_roles=data["extra_roles"],
                )
        except DomainError as exc:
            messages.error(request, exc.message)


_REF = re.compile(r"\b([a-z][a-z_]*):(\d+)\b")


def _refs(text: str) -> str:
    """References a service stored (``visit:3373``, ``reward:4``) as a reader says them:
    ``#3373``, the kind named where it has a label (change keys), never the code."""

    def say(m) -> str:
        kind = change_keys.get(m.group(1))
        return f"{kind} #{m.group(2)}" if kind else f"#{m.group(2)}"

    return _REF.sub(say, text)


def _audit_value(field, value) -> str:
    return _refs(_audit_value_raw(field, value))


def _audit_value_raw(field, value) -> str:
    import datetime as dt

    from django.utils import formats, timezone

    if value is None or value == "":
        return "—"
    if field is not None and getattr(field, "choices", None):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] in " T":
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            return formats.date_format(timezone.localtime(moment), "Y-m-d H:i:s")
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)


def audit_change_rows(entry: AuditLog) -> list[tuple[str, str]]:
    """(label, value) per key of an audit row's ``changes``: a key that is a field of the
    target model reads as its verbose name; [old, new] pairs read old → new."""
    model = entry.target_type.model_class() if entry.target_type_id else None
    fields = {}
    if model is not None:
        for f in model._meta.concrete_fields:
            fields[f.name] = f
            fields[f.attname] = f
    rows = []
    for key, value in (entry.changes or {}).items():
        field = fields.get(key)
        label = str(field.verbose_name) if field is not None else change_keys.label(key)
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], (list, dict)):
            shown = f"{_audit_value(field, value[0])} → {_audit_value(field, value[1])}"
        else:
            shown = _audit_value(field, value)
        rows.append((label, shown))
    return rows


class AuditTargetTypeFilter(admin.SimpleListFilter):
    """The kinds of record the audit rows name (not every content type there is), each by
    its translated name; a django-pghistory event model reads as "… history"."""

    title = _("target type")
    parameter_name = "target_type"

    def lookups(self, request, model_admin):
        from django.contrib.contenttypes.models import ContentType

        from .roles import model_label

        ids = model_admin.get_queryset(request).order_by().values_list("target_type", flat=True).distinct()
        types = ContentType.objects.filter(pk__in=[i for i in ids if i])
        return sorted(((str(ct.pk), model_label(ct)) for ct in types), key=lambda c: c[1])

    def queryset(self, request, queryset):
        value = parse_int(self.value() or "")
        return queryset.filter(target_type_id=value) if value is not None else queryset


class AuditActionFilter(admin.SimpleListFilter):
    """The actions by their translated label (clinic.labels), not by the stored code."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        codes = model_admin.get_queryset(request).order_by().values_list("action", flat=True).distinct()
        return sorted(((code, audit_action_label(code)) for code in codes), key=lambda c: str(c[1]))

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(action=value) if value else queryset


@admin.register(AuditLog)
class AuditLogAdmin(BranchScopedMixin, ClinicAdmin):
    """Read-only search over the audit log, scoped to the user's branches. Actions show by
    their translated label; times in the clinic's time zone (admin's own localtime)."""

    list_display = [
        "at",
        "actor_label",
        "action_name",
        "target_kind",
        "target_repr",
        "branch",
        "ip_address",
    ]
    list_filter = [AuditActionFilter, "branch", AuditTargetTypeFilter, ("at", admin.DateFieldListFilter)]
    search_fields = ["action", "actor_name", "target_repr", "target_id", "actor__username"]
    date_hierarchy = "at"
    list_select_related = ["branch", "target_type"]
    fields = readonly_fields = [
        "at",
        "actor",
        "actor_label",
        "action_name",
        "target_kind",
        "target_id",
        "target_repr",
        "branch",
        "change_table",
        "ip_address",
    ]
    show_full_result_count = False

    @admin.display(description=_("actor name"), ordering="actor_name")
    def actor_label(self, obj):
        return obj.actor_label

    @admin.display(description=_("action"), ordering="action")
    def action_name(self, obj):
        return obj.action_label

    @admin.display(description=_("target type"), ordering="target_type")
    def target_kind(self, obj):
        from .roles import model_label

        return model_label(obj.target_type) if obj.target_type_id else "—"

    @admin.display(description=_("changes"))
    def change_table(self, obj):
        """Each changed field by its translated name, choice values by their label and
        times in the clinic's zone; old → new where the row records both."""
        rows = audit_change_rows(obj)
        if not rows:
            return "—"
        return format_html(
            '<table class="audit-changes">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(ClinicAdmin):
    list_display = ["job_name", "last_run_at", "runs"]
    readonly_fields = ["job_name", "last_run_at", "runs"]

    @admin.display(description=_("job"), ordering="name")
    def job_name(self, obj):
        return obj.label

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PermissionChoiceField(forms.ModelMultipleChoiceField):
    """Permissions by their translated name (``预约 · 查看预约``), sorted by it."""

    def label_from_instance(self, obj):
        return permission_label(obj)


def permission_field(queryset, **kwargs) -> PermissionChoiceField:
    queryset = queryset.select_related("content_type")
    field = PermissionChoiceField(queryset=queryset, **kwargs)
    # Sort the choices by the label the user reads, not by app and codename.
    field.choices = sorted(field.choices, key=lambda choice: str(choice[1]))
    return field


def _permission_list(perms) -> str:
    return format_html_join(mark_safe("<br>"), "{}", ((permission_label(p),) for p in perms))


class RoleForm(forms.ModelForm):
    actor = None  # set by RoleAdmin.get_form

    class Meta:
        model = Group
        fields = ["name", "permissions"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        group = self.instance if self.instance.pk else None
        try:
            services.role_check(
                actor=self.actor,
                group=group,
                name=data.get("name", group.name if group else ""),
                permissions=data.get("permissions") or [],
            )
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(ClinicAdmin):
    """Roles (Django groups) and what each may do. The built-in roles start from the
    defaults of clinic/roles.py (docs/permissions.md); HQ may change them and add roles.
    Saves go through the role services (audited); the change page shows how a built-in
    role differs from its default, and an action restores the default."""

    form = RoleForm
    list_display = ["name", "kind", "staff_count", "difference_summary"]
    search_fields = ["name"]
    actions = ["reset_to_default"]
    fields = ["name", "permissions", "difference"]
    readonly_fields = ["difference"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(staff_total=Count("user", distinct=True))

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and default_permissions(obj) is not None:
            return ["name", "difference"]
        return ["difference"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name != "permissions":
            return super().formfield_for_manytomany(db_field, request, **kwargs)
        qs = Permission.objects.all()
        if not request.user.is_superuser:
            # Offer what the user may grant, and whatever the role has already (so a save
            # never drops a permission only because the editor does not hold it).
            held = Q()
            for key in request.user.get_all_permissions():
                app_label, codename = key.split(".", 1)
                held |= Q(content_type__app_label=app_label, codename=codename)
            object_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            group_id = parse_int(str(object_id)) if object_id else None
            current = Q(group__pk=group_id) if group_id is not None else Q(pk__in=[])
            qs = qs.filter(held | current).distinct()
        return permission_field(
            qs,
            required=False,
            label=_("permissions"),
            widget=FilteredSelectMultiple(_("permissions"), is_stacked=False),
        )

    @admin.display(description=_("kind"))
    def kind(self, obj):
        return _("built-in") if default_permissions(obj) is not None else _("added in admin")

    @admin.display(description=_("staff"), ordering="staff_total")
    def staff_count(self, obj):
        return obj.staff_total

    @admin.display(description=_("difference to the default"))
    def difference_summary(self, obj):
        diff = role_difference(obj)
        if diff is None:
            return "—"
        added, removed = diff
        if not added and not removed:
            return _("as default")
        return _("%(added)d added, %(removed)d removed") % {"added": len(added), "removed": len(removed)}

    @admin.display(description=_("difference to the default"))
    def difference(self, obj):
        diff = role_difference(obj) if obj and obj.pk else None
        if diff is None:
            return _("A role added in admin has no default.") if obj and obj.pk else "—"
        added, removed = diff
        if not added and not removed:
            return _("The role has exactly its default permissions (docs/permissions.md).")
        return format_html(
            "<p><strong>{}</strong><br>{}</p><p><strong>{}</strong><br>{}</p>",
            _("Added beyond the default:"),
            _permission_list(added) or "—",
            _("Default permissions taken away:"),
            _permission_list(removed) or "—",
        )

    @admin.action(
        description=_("Restore the default permissions of the selected roles"), permissions=["change"]
    )
    def reset_to_default(self, request, queryset):
        done = 0
        for group in queryset:
            if default_permissions(group) is None:
                continue
            try:
                services.role_reset(actor=request.user, group=group)
                done += 1
            except DomainError as exc:
                messages.error(request, exc.message)
        messages.success(request, _("%(count)d roles restored to their defaults.") % {"count": done})

    def has_delete_permission(self, request, obj=None):
        if obj is not None and default_permissions(obj) is not None:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # The name and the permissions change together in role_save (save_related).
        pass

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = request.user
        return form

    def save_related(self, request, form, formsets, change):
        data = form.cleaned_data
        saved = services.role_save(
            actor=request.user,
            group=form.instance if change else None,
            name=data.get("name", form.instance.name),
            permissions=data["permissions"],
        )
        form.instance.pk = saved.pk

    def delete_model(self, request, obj):
        services.role_delete(actor=request.user, group=obj)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            self.delete_model(request, group)


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(ClinicAdmin, DjangoUserAdmin):
    """Logins. Roles come from the staff profile (and its group); only a superuser may touch
    superuser status, groups or single permissions, so an HQ admin cannot raise their own."""

    list_display = ["username", "first_name", "email", "is_staff", "is_active", "last_login"]
    _RESERVED = ("is_superuser", "is_staff", "groups", "user_permissions")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [
            (name, {**opts, "fields": tuple(f for f in opts["fields"] if f not in self._RESERVED)})
            for name, opts in fieldsets
        ]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(is_superuser=False)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "user_permissions":
            return permission_field(
                Permission.objects.all(),
                required=False,
                label=_("user permissions"),
                widget=FilteredSelectMultiple(_("user permissions"), is_stacked=False),
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


# django-otp's device admins would show the secrets; HQ resets a device with the staff
# action above, and staff manage their own on the 两步验证 page.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
