"""Campaign and event pages (namespace ``marketing``)."""

from __future__ import annotations

from django.urls import path

from . import campaign_views as v

urlpatterns: list = [
    path("campaigns/", v.campaign_list, name="campaign_list"),
    path("campaigns/new/", v.campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", v.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", v.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/prices/", v.campaign_price_add, name="campaign_price_add"),
    path(
        "campaigns/<int:pk>/prices/<int:price_id>/remove/",
        v.campaign_price_remove,
        name="campaign_price_remove",
    ),
    path("campaigns/<int:pk>/signup/", v.campaign_signup, name="campaign_signup"),
    path("campaigns/<int:pk>/cancel/", v.campaign_signup_cancel, name="campaign_signup_cancel"),
    path("campaigns/<int:pk>/checkin/", v.campaign_checkin, name="campaign_checkin"),
    path("campaigns/<int:pk>/reward/", v.campaign_reward, name="campaign_reward"),
    path("campaigns/<int:pk>/noshows/", v.campaign_noshows, name="campaign_noshows"),
    path("campaigns/<int:pk>/draw/", v.campaign_draw, name="campaign_draw"),
]
