"""The export jobs' pages (thin views over export_jobs): the job's progress, polled by htmx
until the file is ready, and the download. Only the person who asked sees either (anyone
else gets 404: the file is masked as the requester's permissions say)."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.middleware import add_no_store
from members.exports import XLSX

from . import export_jobs
from .exports import EXPORT_PERM


@require_GET
@permission_required(EXPORT_PERM, raise_exception=True)
def export_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = export_jobs.get_export_job_for_user(request.user, pk)
    if request.htmx:
        return render(request, "reports/_export_status.html", {"job": job})
    return render(
        request,
        "reports/export_job.html",
        {"job": job, "recent": export_jobs.recent_jobs(request.user)},
    )


@require_GET
@permission_required(EXPORT_PERM, raise_exception=True)
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = export_jobs.get_export_job_for_user(request.user, pk)
    path = export_jobs.export_download(actor=request.user, job=job)
    content_type = "text/csv; charset=utf-8" if job.fmt == "csv" else XLSX
    response = FileResponse(
        open(path, "rb"),  # noqa: SIM115  (FileResponse closes it)
        as_attachment=True,
        filename=path.name.split("-", 1)[1],
        content_type=content_type,
    )
    add_no_store(response)
    return response
