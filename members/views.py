"""Thin views: bind a form, call one service, map MemberError to a form error or message."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.phones import is_mobile

from . import exports, selectors, services
from .errors import MemberError
from .forms import (
    CommunicationForm,
    ConsentForm,
    EraseForm,
    FamilyLinkForm,
    MedicalForm,
    MemberFilterForm,
    MemberForm,
)
from .models import Consent, FamilyLink, MemberStatus
from .names import mask_name
from .profile import profile_context
from .registry import registration_fields_for


def _form_error(form, exc: MemberError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


@require_GET
@permission_required("members.view_member", raise_exception=True)
def member_list(request: HttpRequest) -> HttpResponse:
    form = MemberFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.member_list(
        request.user,
        stage=filters.get("stage") or "",
        channel=filters["channel"].pk if filters.get("channel") else None,
        tag=filters["tag"].pk if filters.get("tag") else None,
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(
        request, "members/list.html", {"form": form, "page": page, "query": request.GET.urlencode()}
    )


@require_GET
@permission_required("members.view_member", raise_exception=True)
def member_search(request: HttpRequest) -> HttpResponse:
    query = (request.GET.get("q") or "")[:50]
    results = selectors.member_search(request.user, query)
    template = "members/_search_results.html" if request.htmx else "members/search.html"
    # Receiving a person of another branch needs an exact finding, not a name browse.
    receivable = selectors.classify_query(query)[0] in selectors.RECEIVE_KINDS
    return render(request, template, {"results": results, "query": query, "receivable": receivable})


@require_http_methods(["GET", "POST"])
@permission_required("members.add_member", raise_exception=True)
def member_create(request: HttpRequest) -> HttpResponse:
    extensions = registration_fields_for(request.user)
    initial = {"phone": request.GET.get("phone", "")}
    for ext in extensions:  # e.g. ?ref=<referral code> from a scanned referral QR
        if ext.query_param and request.GET.get(ext.query_param):
            initial[ext.name] = request.GET[ext.query_param][:100]
    form = MemberForm(request.POST or None, initial=initial, extensions=extensions, user=request.user)
    duplicate = False
    if request.method == "POST" and form.is_valid():
        if request.branch is None:
            raise PermissionDenied
        data = form.cleaned_data
        try:
            member = services.member_register(
                actor=request.user,
                branch=request.branch,
                **form.member_data(),
                tags=data["tags"],
                allow_duplicate=data["allow_duplicate"],
                extras=form.extra_values,
            )
        except MemberError as exc:
            duplicate = exc.code == "duplicate"
            _form_error(form, exc)
        else:
            messages.success(request, _("%(name)s is registered.") % {"name": member.name})
            _phone_notices(request, member)
            return redirect("members:detail", pk=member.pk)
    return render(request, "members/form.html", {"form": form, "duplicate": duplicate, "member": None})


def _phone_notices(request: HttpRequest, member) -> None:
    """After registering: who else uses this phone (a family may share one; names outside
    the user's branches are masked), and a landline never receives text messages."""
    if not member.phone:
        return
    others = list(
        selectors.members_sharing_phone(member.phone, exclude_pk=member.pk).order_by("created_at")[:5]
    )
    if others:
        names = "、".join(
            other.name if selectors.member_in_scope(other, request.user) else mask_name(other.name)
            for other in others
        )
        messages.warning(
            request,
            _("This phone number is also used by %(names)s. A family may share one: check it is right.")
            % {"names": names},
        )
    if not is_mobile(member.phone):
        messages.info(request, _("This number is a landline: it will not receive text messages."))


@require_GET
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, with_tags=True)
    return render(request, "members/detail.html", profile_context(request, member))


@require_GET
def member_duplicates(request: HttpRequest, pk: int) -> HttpResponse:
    """The profile's "possible duplicates" panel, loaded after the page (htmx)."""
    member = selectors.get_member_for_user(request.user, pk, perm="members.merge_member")
    duplicates = []
    if member.status == MemberStatus.ACTIVE:
        duplicates = list(
            selectors.likely_duplicates(
                phone=member.phone,
                name=member.name,
                id_number_hash=member.id_number_hash,
                exclude_pk=member.pk,
            )
        )
    return render(request, "members/_duplicates.html", {"member": member, "duplicates": duplicates})


@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, write=True)
    form = MemberForm(request.POST or None, initial=MemberForm.initial_from(member), editing=True)
    form.show_masked(member)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        tags = data.pop("tags")
        for secret in ("phone", "email", "id_number"):  # blank means unchanged (never shown in full)
            if not data[secret]:
                del data[secret]
        try:
            services.member_update(actor=request.user, member=member, tags=tags, **data)
        except MemberError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("members:detail", pk=member.pk)
    return render(request, "members/form.html", {"form": form, "member": member})


@require_POST
def member_reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk)
    try:
        value = services.member_reveal(
            actor=request.user, member=member, field=field, ip_address=_ip(request)
        )
    except MemberError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied from exc
        return HttpResponse(exc.message, status=409)
    return render(request, "members/_revealed.html", {"value": value, "field": field})


@require_POST
def member_medical(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, write=True, perm="clinic.view_medical")
    form = MedicalForm(request.POST)
    if form.is_valid():
        try:
            services.member_medical_update(actor=request.user, member=member, **form.cleaned_data)
            messages.success(request, _("Medical alerts saved."))
        except MemberError as exc:
            messages.error(request, exc.message)
    return redirect(reverse("members:detail", args=[pk]) + "#tab-medical")


@require_POST
def consent_add(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, write=True)
    form = ConsentForm(request.POST, member=member)
    if form.is_valid():
        try:
            services.consent_grant(actor=request.user, member=member, **form.cleaned_data)
            messages.success(request, _("Consent recorded."))
        except MemberError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Check the consent form."))
    return redirect(reverse("members:detail", args=[pk]) + "#tab-consents")


@require_POST
def consent_withdraw(request: HttpRequest, pk: int, consent_id: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, write=True)
    consent = get_object_or_404(Consent, pk=consent_id, member=member)
    services.consent_withdraw(actor=request.user, consent=consent, note=request.POST.get("note", "")[:100])
    messages.success(request, _("Consent withdrawn. It applies at once."))
    return redirect(reverse("members:detail", args=[pk]) + "#tab-consents")


@require_POST
def member_opt_out(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, write=True)
    services.member_opt_out_set(actor=request.user, member=member, opt_out=request.POST.get("opt_out") == "1")
    messages.success(request, _("Saved."))
    return redirect(reverse("members:detail", args=[pk]) + "#tab-consents")


@require_POST
def communication_add(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, write=True)
    form = CommunicationForm(request.POST)
    if form.is_valid():
        try:
            services.communication_log_add(
                actor=request.user, member=member, branch=request.branch, **form.cleaned_data
            )
            messages.success(request, _("Contact logged."))
        except MemberError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Write a short summary of the contact."))
    return redirect(reverse("members:detail", args=[pk]) + "#tab-communications")


@require_POST
def family_add(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, write=True)
    form = FamilyLinkForm(request.POST)
    if form.is_valid():
        try:
            relative = selectors.get_member_for_user(request.user, form.cleaned_data["relative"])
            services.family_link_add(
                actor=request.user,
                member=member,
                relative=relative,
                relation=form.cleaned_data["relation"],
                is_guardian=form.cleaned_data["is_guardian"],
            )
            messages.success(request, _("Family link saved."))
        except MemberError as exc:
            messages.error(request, exc.message)
    else:
        messages.error(request, _("Check the family link form."))
    return redirect(reverse("members:detail", args=[pk]) + "#tab-family")


@require_POST
def family_remove(request: HttpRequest, pk: int, link_id: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, write=True)
    link = get_object_or_404(FamilyLink, pk=link_id, member=member)
    services.family_link_remove(actor=request.user, link=link)
    return redirect(reverse("members:detail", args=[pk]) + "#tab-family")


@require_POST
def member_receive(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a record of another branch here: the person is being served at this branch."""
    if not request.user.has_perm("members.change_member") or request.branch is None:
        raise PermissionDenied
    member = selectors.get_member_chainwide(request.user, pk)
    try:
        services.member_receive_at_branch(
            actor=request.user, member=member, branch=request.branch, query=request.POST.get("q", "")[:50]
        )
    except MemberError as exc:
        messages.error(request, exc.message)
        return redirect("members:list")
    return redirect("members:detail", pk=member.pk)


@require_http_methods(["GET", "POST"])
def member_merge(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    """Merge ``other`` (the duplicate) into ``pk`` (the record that stays)."""
    target = selectors.get_member_for_user(request.user, pk, perm="members.merge_member")
    source = selectors.get_member_for_user(request.user, other, perm="members.merge_member")
    if request.method == "POST":
        try:
            moved = services.member_merge(actor=request.user, source=source, target=target)
        except MemberError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("Merged. %(rows)s related rows moved.") % {"rows": sum(moved.values())}
            )
            return redirect("members:detail", pk=target.pk)
    return render(request, "members/merge.html", {"target": target, "source": source})


@require_http_methods(["GET", "POST"])
def member_erase(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, perm="members.erase_member")
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.member_erase(
                actor=request.user, member=member, reason=form.cleaned_data["reason"]
            )
        except MemberError as exc:
            _form_error(form, exc)
        else:
            if outcome == "restricted":
                messages.warning(
                    request, _("Medical records must be kept: the record is restricted instead.")
                )
                return redirect("members:detail", pk=member.pk)
            messages.success(request, _("The person's data is erased."))
            return redirect("members:list")
    return render(
        request,
        "members/erase.html",
        {"member": member, "form": form, "retain_until": services.retention_reason(member)},
    )


@require_GET
def member_data_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    member = selectors.get_member_for_user(request.user, pk, perm="members.erase_member")
    return exports.person_data_response(actor=request.user, member=member, fmt=fmt)


@require_GET
@permission_required("clinic.export_data", raise_exception=True)
def member_list_export(request: HttpRequest) -> HttpResponse:
    form = MemberFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.member_list(
        request.user,
        stage=filters.get("stage") or "",
        channel=filters["channel"].pk if filters.get("channel") else None,
        tag=filters["tag"].pk if filters.get("tag") else None,
    ).filter(status=MemberStatus.ACTIVE)
    return exports.member_list_response(actor=request.user, queryset=qs, branch=request.branch)
