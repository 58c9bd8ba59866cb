"""Segment pages: the list, the editor with its live count (htmx posts the form to
``segment_preview`` on every change), the masked export."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import segment_selectors as sel
from . import segments
from .errors import MarketingError
from .segment_forms import SegmentForm
from .segment_models import Quadrant


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _preview(request: HttpRequest, form: SegmentForm) -> dict:
    """Count, quadrants and a sample of the form's filters (valid or not: nothing then)."""
    if not form.is_valid():
        return {"preview": None}
    scope = sel.segment_scope(request.user, form.cleaned_data.get("branch"))
    filters = form.filters()
    quadrants = sel.segment_quadrant_counts(filters, scope=scope)
    labels = dict(Quadrant.choices)
    return {
        "preview": {
            "count": sum(quadrants.values()),
            "quadrants": [(labels[code], n) for code, n in quadrants.items()],
            "sample": sel.segment_sample(filters, scope=scope, limit=10),
        }
    }


@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    _need(request, "marketing.view_segment")
    rows = list(sel.segments_for_user(request.user)[:200])
    return render(request, "marketing/segment_list.html", {"rows": rows, "section": "segments"})


def _save(request: HttpRequest, form: SegmentForm, segment=None):
    data = form.cleaned_data
    kwargs = {
        "actor": request.user,
        "name": data["name"],
        "branch": data.get("branch"),
        "description": data.get("description", ""),
        "filters": form.filters(),
    }
    try:
        if segment is None:
            return segments.segment_create(**kwargs)
        return segments.segment_update(segment=segment, **kwargs)
    except MarketingError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    _need(request, "marketing.add_segment")
    form = SegmentForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid() and (segment := _save(request, form)):
        messages.success(request, _("Segment %(name)s saved.") % {"name": segment.name})
        return redirect("marketing:segment_edit", pk=segment.pk)
    context = {"form": form, "segment": None, "section": "segments", **_preview(request, form)}
    return render(request, "marketing/segment_form.html", context)


@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = sel.get_segment_for_user(request.user, pk, write=request.method == "POST")
    if request.method == "POST":
        form = SegmentForm(request.POST, user=request.user)
        if form.is_valid() and _save(request, form, segment):
            messages.success(request, _("Segment %(name)s saved.") % {"name": form.cleaned_data["name"]})
            return redirect("marketing:segment_edit", pk=segment.pk)
    else:
        form = SegmentForm(SegmentForm.initial_from(segment), user=request.user)
    context = {"form": form, "segment": segment, "section": "segments", **_preview(request, form)}
    return render(request, "marketing/segment_form.html", context)


@require_POST
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The editor's live count (an htmx partial): nothing is saved."""
    _need(request, "marketing.view_segment")
    form = SegmentForm(request.POST, user=request.user)
    form.fields["name"].required = False  # counting needs no name yet
    return render(request, "marketing/_segment_preview.html", _preview(request, form))


@require_POST
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    segment = sel.get_segment_for_user(request.user, pk)
    _need(request, "marketing.delete_segment")
    try:
        segments.segment_delete(actor=request.user, segment=segment)
    except MarketingError as exc:
        messages.error(request, exc.message)
        return redirect("marketing:segment_edit", pk=segment.pk)
    messages.success(request, _("Segment deleted."))
    return redirect("marketing:segment_list")


@require_GET
def segment_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    segment = sel.get_segment_for_user(request.user, pk)
    _need(request, "marketing.export_segment")
    try:
        content, ctype, name = segments.segment_export(actor=request.user, segment=segment, fmt=fmt)
    except MarketingError as exc:
        messages.error(request, exc.message)
        return redirect("marketing:segment_edit", pk=segment.pk)
    response = HttpResponse(content, content_type=ctype)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
