"""The audit-log page (thin views over reports.audit): managers read their branches' rows,
HQ every row; filter by person, staff, action and date; export as xlsx or CSV (audited)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from clinic.fields import DateField, ShortTextField
from clinic.params import query_int

from . import audit
from .exports import FORMATS, table_response


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.staff.full_name


class AuditFilterForm(forms.Form):
    person = ShortTextField(
        label=gettext_lazy("Person"),
        required=False,
        max_length=50,
        help_text=gettext_lazy("Customer number or name"),
    )
    staff = StaffChoiceField(
        label=gettext_lazy("Staff"), queryset=None, required=False, empty_label=gettext_lazy("All staff")
    )
    action = forms.ChoiceField(label=gettext_lazy("Action"), required=False)
    date_from = DateField(label=gettext_lazy("From"), required=False)
    date_to = DateField(label=gettext_lazy("To"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = audit.staff_choices(user)
        self.fields["action"].choices = [("", _("All actions")), *audit.action_choices(user)]
        for name, field in self.fields.items():
            field.widget.attrs.setdefault(
                "class", "form-select" if name in ("staff", "action") else "form-control"
            )

    def clean(self):
        data = super().clean()
        lo, hi = data.get("date_from"), data.get("date_to")
        if lo and hi and lo > hi:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


def _filtered(request: HttpRequest):
    form = AuditFilterForm(request.GET or None, user=request.user)
    qs = audit.audit_log_for(request.user)
    if form.is_bound:
        if not form.is_valid():
            return form, qs.none()
        data = form.cleaned_data
        qs = audit.audit_log_filter(
            qs,
            person=data["person"],
            staff=data["staff"],
            action=data["action"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
    return form, qs.order_by("-at", "-id")


@require_GET
@permission_required(audit.VIEW_PERM, raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    form, qs = _filtered(request)
    page = Paginator(qs, 50).get_page(query_int(request, "page", maximum=100_000) or 1)
    rows = [(e, audit.target_label(e), audit.changes_text(e)) for e in page.object_list]
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    return render(
        request,
        "reports/audit_log.html",
        {
            "form": form,
            "page": page,
            "rows": rows,
            "page_query": urlencode(query),
            "can_export": request.user.has_perm(audit.EXPORT_PERM),
            "formats": FORMATS,
        },
    )


@require_GET
@permission_required(audit.VIEW_PERM, raise_exception=True)
def audit_log_export(request: HttpRequest, ext: str) -> HttpResponse:
    if not request.user.has_perm(audit.EXPORT_PERM):
        raise PermissionDenied
    form, qs = _filtered(request)
    header = [_("Time"), _("Branch"), _("Staff"), _("Action"), _("Target"), _("Changes"), _("IP address")]
    filters = {k: v for k, v in request.GET.items() if k in form.fields and v}
    return table_response(
        actor=request.user,
        branch=request.branch,
        report="audit_log",
        title=_("Audit log"),
        header=header,
        rows=audit.export_rows(qs),
        fmt=ext,
        stem="audit-log",
        filters=filters,
    )
