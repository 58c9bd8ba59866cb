"""Analysis pages (namespace ``reports``)."""

from __future__ import annotations

from django.urls import path

from . import customers_views, operations_views, people_views, stock_views

urlpatterns: list = [
    path("operations/", operations_views.operations_page, name="operations"),
    path("marketing/", people_views.marketing_page, name="marketing"),
    path("customers/", customers_views.customers_page, name="customers"),
    path("stock-usage/", stock_views.stock_usage_page, name="stock_usage"),
]
