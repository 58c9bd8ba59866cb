"""Coupon screens: a member's coupons (and issuing one), batches with their statistics,
and the batch exports for printing (xlsx, PDF)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic import pdf as clinic_pdf
from clinic.fields import ShortTextField
from clinic.models import Branch, Role
from clinic.selectors import branches_for_user, scope_to_branches
from members.exports import workbook_bytes
from members.selectors import get_member_for_user

from . import auto_coupons, coupons
from .auto_coupons import ReviewChannel
from .coupon_models import Coupon, CouponBatch, CouponTemplate
from .errors import LoyaltyError
from .reasons import coupon_reason_label

User = get_user_model()


class IssueForm(forms.Form):
    template = forms.ModelChoiceField(
        CouponTemplate.objects.filter(is_active=True), label=gettext_lazy("Coupon")
    )
    reason = ShortTextField(label=gettext_lazy("Reason"), max_length=200, required=False)


class ReviewForm(forms.Form):
    channel = forms.ChoiceField(label=gettext_lazy("Where"), choices=ReviewChannel.choices)
    reference = ShortTextField(
        label=gettext_lazy("Review number or link"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("One reward per review; without it, one per channel and day."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["reference"].widget.attrs["class"] = "form-control form-control-sm"


def _source(row: Coupon) -> str:
    """Where a coupon came from, in words: its batch, or its reason."""
    return str(row.batch.name) if row.batch_id else coupon_reason_label(row.reason)


@require_GET
def member_coupons(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk)
    if not request.user.has_perm("loyalty.view_coupon"):
        raise PermissionDenied
    rows = list(
        Coupon.objects.filter(member=member).select_related("template", "batch").order_by("-issued_at")
    )
    for row in rows:
        row.shown = coupons.code_format(row.code)
        row.source = _source(row)
    context = {"member": member, "rows": rows, "form": IssueForm(), "review_form": ReviewForm()}
    return render(request, "loyalty/coupons.html", context)


@require_POST
def review_record(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff record that the member completed a review or survey: its reward, once."""
    member = get_member_for_user(request.user, pk, perm=auto_coupons.REVIEW_PERMISSION)
    form = ReviewForm(request.POST)
    back = redirect(reverse("loyalty:coupons", args=[pk]))
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return back
    try:
        reward = auto_coupons.review_record(actor=request.user, member=member, **form.cleaned_data)
    except LoyaltyError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied from exc
        messages.error(request, exc.message)
        return back
    if reward.already:
        messages.warning(request, _("This review was already rewarded; nothing more was given."))
    elif reward.coupon is None and reward.points is None:
        messages.warning(
            request, _("Review recorded, but no reward was given: the member already holds the coupon limit.")
        )
    else:
        messages.success(request, _reward_text(reward))
    return back


def _reward_text(reward) -> str:
    code = coupons.code_format(reward.coupon.code) if reward.coupon is not None else ""
    points = reward.points.points if reward.points is not None else 0
    if code and points:
        return _("Review recorded: coupon %(code)s and %(points)s points given.") % {
            "code": code,
            "points": points,
        }
    if code:
        return _("Review recorded: coupon %(code)s given.") % {"code": code}
    return _("Review recorded: %(points)s points given.") % {"points": points}


@require_POST
def coupon_issue(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, perm=coupons.ISSUE_PERMISSION)
    form = IssueForm(request.POST)
    back = redirect(reverse("loyalty:coupons", args=[pk]))
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return back
    try:
        coupon = coupons.coupon_issue(
            actor=request.user,
            member=member,
            template=form.cleaned_data["template"],
            reason=form.cleaned_data["reason"],
        )
    except LoyaltyError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied from exc
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Coupon %(code)s issued.") % {"code": coupons.code_format(coupon.code)})
    return back


def _batches(request: HttpRequest, perm: str = "loyalty.view_couponbatch"):
    if not request.user.has_perm(perm):
        raise PermissionDenied
    return scope_to_branches(CouponBatch.objects.all(), request.user)


def _batch(request: HttpRequest, pk: int, perm: str) -> CouponBatch:
    batch = (
        _batches(request, "loyalty.view_couponbatch")
        .select_related("template", "marketer")
        .filter(pk=pk)
        .first()
    )
    if batch is None:
        raise Http404
    if not request.user.has_perm(perm):
        raise PermissionDenied
    return batch


@require_GET
def batches(request: HttpRequest) -> HttpResponse:
    ids = list(_batches(request).values_list("pk", flat=True)[:200])
    stats = coupons.batch_stats_by(batch_ids=ids)
    context = {"by_batch": stats["batch"], "by_marketer": stats["marketer"], "by_channel": stats["channel"]}
    return render(request, "loyalty/coupon_batches.html", context)


class BatchForm(forms.Form):
    """A printed batch (号段): the shape of the input; ``coupon_batch_check`` the rules."""

    template = forms.ModelChoiceField(CouponTemplate.objects.none(), label=gettext_lazy("Coupon"))
    name = ShortTextField(label=gettext_lazy("Batch name"), max_length=100)
    count = forms.IntegerField(
        label=gettext_lazy("Number of codes"), min_value=1, max_value=coupons.MAX_BATCH
    )
    branch = forms.ModelChoiceField(Branch.objects.none(), label=gettext_lazy("Branch"))
    marketer = forms.ModelChoiceField(
        User.objects.none(), label=gettext_lazy("Marketer"), required=False, empty_label=gettext_lazy("None")
    )
    channel = ShortTextField(
        label=gettext_lazy("Channel"),
        max_length=100,
        required=False,
        help_text=gettext_lazy("Name the marketer or the channel (e.g. 地推, 合作商户)."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        branches = branches_for_user(user)
        self.fields["template"].queryset = CouponTemplate.objects.filter(is_active=True).order_by(
            "name", "pk"
        )
        self.fields["branch"].queryset = branches
        self.fields["marketer"].queryset = (
            User.objects.filter(is_active=True, staff__role=Role.MARKETING, staff__branches__in=branches)
            .distinct()
            .order_by("staff__full_name")
        )
        self.fields["marketer"].label_from_instance = lambda u: u.get_full_name() or u.get_username()
        if branches.count() == 1 and not self.is_bound:
            self.fields["branch"].initial = branches.first()


@require_http_methods(["GET", "POST"])
def batch_create(request: HttpRequest) -> HttpResponse:
    _batches(request, "loyalty.add_couponbatch")
    form = BatchForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            batch = coupons.coupon_batch_create(actor=request.user, **data)
        except LoyaltyError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                _("Batch %(name)s printed: numbers %(start)s to %(end)s.")
                % {"name": batch.name, "start": batch.start_no, "end": batch.end_no},
            )
            return redirect("loyalty:coupon_batches")
    return render(
        request, "loyalty/coupon_batch_form.html", {"form": form}, status=400 if form.errors else 200
    )


def _sheet_rows(batch: CouponBatch):
    return [
        (c.serial, coupons.code_format(c.code), batch.name, batch.template.name, c.valid_until)
        for c in batch.coupons.order_by("serial")
    ]


@require_GET
def batch_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    batch = _batch(request, pk, "loyalty.export_couponbatch")
    header = [_("Number"), _("Code"), _("Campaign"), _("Coupon"), _("Valid until")]
    data = workbook_bytes([(str(batch.start_no), header, _sheet_rows(batch))])
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="coupons-{batch.start_no}-{batch.end_no}.xlsx"'
    return response


@require_GET
def batch_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable A4 sheet of tickets, three a row, each with the clinic, the offer and the
    code (``clinic.pdf``: the project's own CJK font); the HTML page without WeasyPrint."""
    batch = _batch(request, pk, "loyalty.export_couponbatch")
    rows = _sheet_rows(batch)
    context = {"batch": batch, "ticket_rows": [rows[i : i + 3] for i in range(0, len(rows), 3)]}
    pdf = clinic_pdf.render("loyalty/coupon_sheet.html", "loyalty/coupon_sheet.css", context, request)
    if pdf is None:
        return HttpResponse(render_to_string("loyalty/coupon_sheet.html", context, request=request))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="coupons-{batch.start_no}-{batch.end_no}.pdf"'
    return response
