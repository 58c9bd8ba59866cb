"""Referral partners, their rebates and statements (namespace ``marketing``)."""

from __future__ import annotations

from django.urls import path

from . import partner_views as v

urlpatterns: list = [
    path("partners/", v.partner_list, name="partner_list"),
    path("partners/new/", v.partner_create, name="partner_create"),
    path("partners/analysis/", v.partner_analysis, name="partner_analysis"),
    path("partners/<int:pk>/", v.partner_detail, name="partner_detail"),
    path("partners/<int:pk>/edit/", v.partner_edit, name="partner_edit"),
    path("partners/<int:pk>/contacts/", v.partner_contact_add, name="partner_contact_add"),
    path(
        "partners/<int:pk>/contacts/<int:contact_id>/remove/",
        v.partner_contact_remove,
        name="partner_contact_remove",
    ),
    path("partners/<int:pk>/terms/new/", v.partner_term_add, name="partner_term_add"),
    path("partners/<int:pk>/terms/<int:term_id>/end/", v.partner_term_end, name="partner_term_end"),
    path("partners/<int:pk>/people/", v.partner_people, name="partner_people"),
    path("statements/", v.statement_list, name="statement_list"),
    path("statements/<int:pk>/", v.statement_detail, name="statement_detail"),
    path("statements/<int:pk>/settle/", v.statement_settle, name="statement_settle"),
    path("statements/<int:pk>/xlsx/", v.statement_xlsx, name="statement_xlsx"),
    path("statements/<int:pk>/pdf/", v.statement_pdf, name="statement_pdf"),
]
