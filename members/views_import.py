"""Import: upload → (map unknown columns and values) → preview with row errors → confirm →
progress."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.selectors import scope_to_branches

from . import importer
from .forms import ImportMappingForm, ImportUploadForm
from .models import ImportJob


def get_import_job_for_user(user, pk: int) -> ImportJob:
    if not user.has_perm("members.import_members"):
        raise PermissionDenied
    job = scope_to_branches(ImportJob.objects.select_related("branch", "profile"), user).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


@require_http_methods(["GET", "POST"])
@permission_required("members.import_members", raise_exception=True)
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        if request.branch is None:
            raise PermissionDenied
        job = importer.import_job_create(
            actor=request.user,
            branch=request.branch,
            upload=form.cleaned_data["file"],
            profile=form.cleaned_data["source"],
        )
        return redirect("members:import_detail", pk=job.pk)
    jobs = scope_to_branches(ImportJob.objects.select_related("branch"), request.user)[:10]
    return render(request, "members/import_upload.html", {"form": form, "jobs": jobs})


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_import_job_for_user(request.user, pk)
    template = "members/_import_status.html" if request.htmx else "members/import_detail.html"
    return render(request, template, {"job": job})


@require_POST
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_import_job_for_user(request.user, pk)
    if job.status != ImportJob.Status.PREVIEW or not job.valid_rows:
        messages.error(request, _("This import cannot be confirmed now."))
        return redirect("members:import_detail", pk=job.pk)
    importer.import_confirm(actor=request.user, job=job)
    return redirect("members:import_detail", pk=job.pk)


@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_import_job_for_user(request.user, pk)
    if request.method == "POST" and "again" in request.POST and job.status == ImportJob.Status.PREVIEW:
        importer.import_mapping_reset(actor=request.user, job=job)
        return redirect("members:import_detail", pk=job.pk)
    if job.status != ImportJob.Status.MAPPING:
        messages.info(request, _("This import has no columns to match now."))
        return redirect("members:import_detail", pk=job.pk)
    form = ImportMappingForm(request.POST or None, job=job)
    if request.method == "POST" and form.is_valid():
        importer.import_mapping_apply(
            actor=request.user,
            job=job,
            source=form.cleaned_data["source"],
            headers=form.mapping["headers"],
            values=form.mapping["values"],
        )
        return redirect("members:import_detail", pk=job.pk)
    return render(request, "members/import_mapping.html", {"job": job, "form": form})
