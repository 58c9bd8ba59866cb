from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "appointments"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="appointments:day"), name="index"),
    path("today/", views.today, name="today"),
    path("day/", views.day, name="day"),
    path("week/", views.week, name="week"),
    path("list/", views.appointment_list, name="list"),
    path("new/", views.book, name="book"),
    path("walk-in/", views.walk_in, name="walk_in"),
    path("pick/", views.member_pick, name="member_pick"),
    path("slots/", views.free_slots, name="slots"),
    path("leave/", views.leave, name="leave"),
    path("bulk-move/", views.bulk_move, name="bulk_move"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/move/", views.move, name="move"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/<slug:action>/", views.transition, name="transition"),
    path("visits/<int:pk>/", views.visit, name="visit"),
    path("visits/<int:pk>/lines/<int:line_id>/remove/", views.line_remove, name="line_remove"),
    path("visits/<int:pk>/materials/", views.visit_materials, name="materials"),
    path("visits/<int:pk>/checkout/", views.visit_checkout, name="checkout"),
    path("visits/<int:pk>/void/", views.visit_void, name="void"),
    path("visits/<int:pk>/receipt/", views.receipt, name="receipt"),
]
