from django.urls import path

from . import views

app_name = "loyalty"

urlpatterns = [
    path("members/<int:pk>/", views.panel, name="panel"),
    path("members/<int:pk>/history/", views.history, name="history"),
    path("members/<int:pk>/card/", views.card, name="card"),
    path("members/<int:pk>/enrol/", views.enrol, name="enrol"),
    path("members/<int:pk>/adjust/", views.adjust, name="adjust"),
    path("members/<int:pk>/tier/", views.tier_override, name="tier_override"),
]
