"""django-import-export for the configuration tables (DESIGN §6): price list, categories,
tiers and their discounts, coupon templates, rewards, branches, chairs. Each app keeps its
resources in ``<app>/resources.py``; the admin adds ``ImportExportMixin`` with them, which
gives upload → preview → confirm and export.

Headers are the fields' Chinese names (what the clinic's spreadsheets use). Every saved row
goes through ``clinic.services.record_save`` (full_clean, an audit row of the changes), the
same path as an edit in the admin form. The member import is NOT one of these: see
docs/decisions.md.
"""

from __future__ import annotations

from django.utils import translation
from import_export import fields, resources, widgets

from . import services
from .models import Branch, ServiceCategory, ServiceItem


def chinese_fields(model, names: list[str], foreign: dict[str, str] | None = None) -> dict:
    """``Field`` per name with its verbose name in Chinese as the column header; foreign keys
    are written and read by the related row's ``foreign[name]`` field (usually ``code``)."""
    foreign = foreign or {}
    out = {}
    with translation.override("zh-hans"):
        for name in names:
            f = model._meta.get_field(name)
            widget = None
            if name in foreign:
                widget = widgets.ForeignKeyWidget(f.related_model, foreign[name])
            elif f.many_to_many:
                widget = widgets.ManyToManyWidget(f.related_model, separator=",", field="code")
            out[name] = fields.Field(
                attribute=name, column_name=str(f.verbose_name), widget=widget, saves_null_values=f.null
            )
    return out


class AuditedResource(resources.ModelResource):
    """Rows are matched by ``code`` and saved through ``record_save`` (audited)."""

    def save_instance(self, instance, is_create, row, **kwargs):
        self.before_save_instance(instance, row, **kwargs)
        services.record_save(actor=kwargs.get("user"), instance=instance)
        self.after_save_instance(instance, row, **kwargs)


def audited_resource(model, names: list[str], foreign: dict[str, str] | None = None, id_fields=("code",)):
    """An ``AuditedResource`` for ``model`` with Chinese headers, matched on ``id_fields``."""
    meta = type(
        "Meta",
        (),
        {
            "model": model,
            "fields": tuple(names),
            "import_id_fields": tuple(id_fields),
            "skip_unchanged": True,
            "report_skipped": True,
        },
    )
    attrs = {**chinese_fields(model, names, foreign), "Meta": meta, "__module__": __name__}
    return type(f"{model.__name__}Resource", (AuditedResource,), attrs)


BranchResource = audited_resource(Branch, ["code", "name", "name_en", "address", "phone", "is_active"])
ServiceCategoryResource = audited_resource(
    ServiceCategory, ["code", "name", "name_en", "is_basic_care", "sort_order", "is_active"]
)
ServiceItemResource = audited_resource(
    ServiceItem,
    ["code", "name", "name_en", "category", "price", "unit", "duration_minutes", "per_tooth", "is_active"],
    foreign={"category": "code"},
)
