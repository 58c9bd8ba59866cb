from django.urls import path

from . import coupon_views, referral_views, reward_views, stored_value_views, views

app_name = "loyalty"

urlpatterns = [
    path("members/<int:pk>/", views.panel, name="panel"),
    path("members/<int:pk>/history/", views.history, name="history"),
    path("members/<int:pk>/card/", views.card, name="card"),
    path("members/<int:pk>/card.svg", views.card_qr, name="card_qr"),
    path("members/<int:pk>/enrol/", views.enrol, name="enrol"),
    path("members/<int:pk>/adjust/", views.adjust, name="adjust"),
    path("members/<int:pk>/tier/", views.tier_override, name="tier_override"),
    path("members/<int:pk>/coupons/", coupon_views.member_coupons, name="coupons"),
    path("members/<int:pk>/coupons/issue/", coupon_views.coupon_issue, name="coupon_issue"),
    path("members/<int:pk>/coupons/review/", coupon_views.review_record, name="review_record"),
    path("coupons/batches/", coupon_views.batches, name="coupon_batches"),
    path("coupons/batches/new/", coupon_views.batch_create, name="coupon_batch_create"),
    path("coupons/batches/<int:pk>/codes.xlsx", coupon_views.batch_xlsx, name="coupon_batch_xlsx"),
    path("coupons/batches/<int:pk>/sheet.pdf", coupon_views.batch_pdf, name="coupon_batch_pdf"),
    path("rewards/", reward_views.rewards_desk, name="rewards_desk"),
    path("members/<int:pk>/rewards/", reward_views.member_rewards, name="rewards"),
    path("members/<int:pk>/rewards/redeem/", reward_views.reward_redeem, name="reward_redeem"),
    path("members/<int:pk>/rewards/<int:rid>/cancel/", reward_views.reward_cancel, name="reward_cancel"),
    path("members/<int:pk>/rewards/<int:rid>/", reward_views.reward_slip, name="reward_slip"),
    path("members/<int:pk>/referrals/", referral_views.member_referrals, name="referrals"),
    path("members/<int:pk>/referrals/qr.svg", referral_views.referral_qr, name="referral_qr"),
    path("members/<int:pk>/referrals/referrer/", referral_views.referrer_set, name="referrer_set"),
    path("members/<int:pk>/stored-value/", stored_value_views.stored_value, name="stored_value"),
    path("members/<int:pk>/stored-value/top-up/", stored_value_views.top_up, name="stored_value_top_up"),
    path("members/<int:pk>/stored-value/refund/", stored_value_views.refund, name="stored_value_refund"),
    path("stored-value/liability/", stored_value_views.liability, name="stored_value_liability"),
    path("referrals/leaderboard/", referral_views.leaderboard, name="referral_leaderboard"),
]
