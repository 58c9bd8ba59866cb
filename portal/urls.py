from __future__ import annotations

from django.urls import path

from . import booking_views, event_views, member_views, privacy_views, profile_views, views

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
    # Appointments and online booking (portal/booking_views.py, docs/portal_booking.md).
    path("appointments/", booking_views.appointments, name="appointments"),
    path("book/", booking_views.book, name="book"),
    path("appointments/<int:pk>/cancel/", booking_views.appointment_cancel, name="appointment_cancel"),
    path(
        "appointments/<int:pk>/reschedule/",
        booking_views.appointment_reschedule,
        name="appointment_reschedule",
    ),
    # Events and surveys (portal/event_views.py).
    path("events/", event_views.events, name="events"),
    path("events/<int:pk>/signup/", event_views.event_signup, name="event_signup"),
    path("events/<int:pk>/cancel/", event_views.event_cancel, name="event_cancel"),
    path("events/<int:pk>/ticket/", event_views.event_ticket, name="event_ticket"),
    path("surveys/", event_views.survey_list, name="surveys"),
    path("surveys/<int:pk>/", event_views.survey_answer, name="survey"),
    path("event-surveys/<int:pk>/", event_views.event_survey_answer, name="event_survey"),
    # My data and privacy (portal/privacy_views.py).
    path("privacy/", privacy_views.privacy_page, name="privacy"),
    path("privacy/data.<str:fmt>", privacy_views.privacy_export, name="privacy_export"),
    path("privacy/erase/", privacy_views.privacy_erase, name="privacy_erase"),
]
