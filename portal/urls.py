from __future__ import annotations

from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("login/code/", views.login_code, name="login_code"),
    path("logout/", views.logout, name="logout"),
    path("wechat/", views.wechat_start, name="wechat_start"),
    path("wechat/callback/", views.wechat_callback, name="wechat_callback"),
    path("switch/<int:member_id>/", views.switch, name="switch"),
    path("language/", views.language, name="language"),
    path("card.svg", views.card_qr, name="card_qr"),
    path("me/", views.me, name="me"),
    path("invite/", views.share, name="share"),
]
