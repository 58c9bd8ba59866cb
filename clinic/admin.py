"""Django admin, in Chinese, for HQ admins (everything) and branch managers (what their role
allows). Saves go through services so that every change is audited."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin as _ImportExportMixin

from . import resources, services
from .errors import DomainError
from .fields import validate_no_hidden_characters, validate_no_hidden_characters_multiline
from .models import (
    AuditLog,
    Branch,
    JobHeartbeat,
    OpeningHours,
    ServiceCategory,
    ServiceItem,
    StaffProfile,
)
from .selectors import scope_to_branches

admin.site.site_header = _("Clinic CRM administration")
admin.site.site_title = _("Clinic CRM")
admin.site.index_title = _("Configuration")

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


class ClinicAdmin(admin.ModelAdmin):
    """The base of every admin in the project: text fields refuse invisible control characters
    (clinic.fields), and autocomplete widgets survive malformed ids in a posted form."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(formfield, forms.CharField) and not isinstance(formfield, forms.TypedChoiceField):
            multiline = isinstance(db_field, models.TextField) or isinstance(formfield.widget, forms.Textarea)
            formfield.validators.append(
                validate_no_hidden_characters_multiline if multiline else validate_no_hidden_characters
            )
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


class AuditedAdmin(ClinicAdmin):
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


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0
    max_num = 7


@admin.register(Branch)
class BranchAdmin(ImportExportMixin, AuditedAdmin):
    resource_classes = [resources.BranchResource]
    list_display = ["code", "name", "phone", "address", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name", "address"]
    inlines = [OpeningHoursInline]

    def get_queryset(self, request):
        return scope_to_branches(super().get_queryset(request), request.user, field="pk")


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
    list_display = ["code", "name", "category", "price", "unit", "duration_minutes", "is_active"]
    list_filter = ["category", "is_active", "per_tooth"]
    search_fields = ["code", "name", "name_en"]
    list_select_related = ["category"]
    autocomplete_fields = ["category"]


class StaffProfileForm(forms.ModelForm):
    class Meta:
        model = StaffProfile
        fields = ["user", "full_name", "role", "job_title", "branches", "default_branch"]


@admin.register(StaffProfile)
class StaffProfileAdmin(ClinicAdmin):
    form = StaffProfileForm
    list_display = ["full_name", "user", "role", "job_title", "branch_list", "is_active"]
    list_filter = ["role", "branches", "user__is_active"]
    search_fields = ["full_name", "user__username", "job_title"]
    filter_horizontal = ["branches"]
    autocomplete_fields = ["user"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user").prefetch_related("branches")
        return scope_to_branches(qs, request.user, field="branches").distinct()

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
                )
            else:
                form.instance = services.staff_profile_create(
                    actor=request.user,
                    user=data["user"],
                    full_name=data["full_name"],
                    role=data["role"],
                    branches=data["branches"],
                    job_title=data["job_title"],
                )
        except DomainError as exc:
            messages.error(request, exc.message)


@admin.register(AuditLog)
class AuditLogAdmin(ClinicAdmin):
    """Read-only search over the audit log, scoped to the user's branches."""

    list_display = [
        "at",
        "actor_name",
        "action",
        "target_type",
        "target_repr",
        "branch",
        "ip_address",
    ]
    list_filter = ["action", "branch", "target_type", ("at", admin.DateFieldListFilter)]
    search_fields = ["action", "actor_name", "target_repr", "target_id", "actor__username"]
    date_hierarchy = "at"
    list_select_related = ["branch", "target_type"]
    readonly_fields = [f.name for f in AuditLog._meta.fields]
    show_full_result_count = False

    def get_queryset(self, request):
        return scope_to_branches(super().get_queryset(request), request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(ClinicAdmin):
    list_display = ["name", "last_run_at", "runs"]
    readonly_fields = ["name", "last_run_at", "runs"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
