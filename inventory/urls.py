"""Stock pages (namespace ``inventory``, mounted at ``/inventory/``)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("", views.stock_list, name="stock"),
    path("items/<int:pk>/", views.item_detail, name="item"),
    path("items/<int:pk>/reorder-level/", views.reorder_level, name="reorder_level"),
    path("batches/<int:pk>/", views.batch_detail, name="batch"),
    path("receive/", views.receive, name="receive"),
    path("transfer/", views.transfer, name="transfer"),
    path("write-off/", views.write_off, name="write_off"),
    path("return/", views.return_supplier, name="return_supplier"),
    path("stock-take/", views.stock_take, name="stock_take"),
    path("reports/", views.reports, name="reports"),
]
