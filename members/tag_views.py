"""The tags page (标签): the list with how many people carry each, a form to add one, and
renaming or recolouring in place. Writes through ``members.services.tag_create`` /
``tag_update`` (audited)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from clinic.fields import ShortTextField
from clinic.selectors import user_branch_ids

from . import services
from .errors import MemberError
from .models import MemberStatus, Tag


class TagForm(forms.Form):
    name = ShortTextField(label=gettext_lazy("Tag name"), max_length=30)
    color = forms.ChoiceField(label=gettext_lazy("Colour"), choices=Tag._meta.get_field("color").choices)


def _need(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _save(request: HttpRequest, form: TagForm, tag: Tag | None) -> bool:
    if not form.is_valid():
        return False
    try:
        if tag is None:
            services.tag_create(actor=request.user, **form.cleaned_data)
        else:
            services.tag_update(actor=request.user, tag=tag, **form.cleaned_data)
    except MemberError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return False
    return True


@require_http_methods(["GET", "POST"])
def tag_list(request: HttpRequest) -> HttpResponse:
    _need(request, "members.view_tag")
    form = TagForm(request.POST or None, initial={"color": "secondary"})
    if request.method == "POST":
        _need(request, "members.add_tag")
        if _save(request, form, None):
            messages.success(request, _("Tag %(name)s added.") % {"name": form.cleaned_data["name"]})
            return redirect("members:tags")
    # Tags are shared by the chain; the counts are of the viewer's branches' people.
    ids = user_branch_ids(request.user)
    mine = Q(members__status=MemberStatus.ACTIVE) & (Q() if ids is None else Q(members__branch_id__in=ids))
    tags = Tag.objects.annotate(people=Count("members", filter=mine, distinct=True)).order_by("name")
    context = {"form": form, "tags": tags, "colours": Tag._meta.get_field("color").choices}
    return render(request, "members/tags.html", context, status=400 if form.errors else 200)


@require_POST
def tag_edit(request: HttpRequest, tag_id: int) -> HttpResponse:
    _need(request, "members.change_tag")
    tag = Tag.objects.filter(pk=tag_id).first()
    if tag is None:
        raise Http404
    form = TagForm(request.POST)
    if _save(request, form, tag):
        messages.success(request, _("Tag %(name)s saved.") % {"name": form.cleaned_data["name"]})
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("members:tags")
