from __future__ import annotations

from django.urls import path

from . import member_views, profile_views, views

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
    path("points/", member_views.points, name="points"),
    path("coupons/", member_views.coupons, name="coupons"),
    path("coupons/<int:pk>/", member_views.coupon_detail, name="coupon_detail"),
    path("coupons/<int:pk>/qr.svg", member_views.coupon_qr, name="coupon_qr"),
    path("rewards/", member_views.rewards, name="rewards"),
    path("rewards/<int:pk>/redeem/", member_views.reward_redeem, name="reward_redeem"),
    path("referral/", member_views.referral, name="referral"),
    path("referral/qr.svg", member_views.referral_qr, name="referral_qr"),
    path("profile/", profile_views.profile, name="profile"),
    path("consents/", profile_views.consents, name="consents"),
    path("family/", profile_views.family, name="family"),
]
