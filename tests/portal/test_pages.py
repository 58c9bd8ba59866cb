"""The member's pages: home, points, coupons (QR), rewards, referral, profile, consents,
family; each shows only the people the phone reaches (another family's ids: 404)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditLog
from clinic.notifications.models import OptOut
from loyalty.coupon_models import Coupon, CouponTemplate, RewardItem, RewardRedemption
from loyalty.coupons import coupon_issue
from loyalty.models import PointsAccount
from members.models import Consent
from members.notify import NotifyRefused, member_notify
from tests.loyalty.factories import earn

pytestmark = pytest.mark.django_db


@pytest.fixture
def template(db):
    return CouponTemplate.objects.create(name="洁牙立减50", kind="amount", amount_off=Decimal("50"))


def test_home_shows_card_points_expiring_and_allowances(member_client, portal_family):
    earn(portal_family.parent, 300, "t:old", days_ago=700)  # expires within 30 days (policy: 24 months)
    page = member_client.get(reverse("portal:home"))
    html = page.content.decode()
    assert page.status_code == 200
    card_no = portal_family.parent.membership.card_no
    assert card_no in html and reverse("portal:card_qr") in html
    assert member_client.get(reverse("portal:card_qr"))["Content-Type"] == "image/svg+xml"
    assert 'data-testid="points-balance">300<' in html.replace("\n", "")


def test_card_qr_of_a_person_without_a_card_is_404(member_client, portal_family):
    member_client.post(reverse("portal:switch", args=[portal_family.child.pk]))
    assert member_client.get(reverse("portal:card_qr")).status_code == 404
    assert member_client.get(reverse("portal:home")).status_code == 200


def test_points_history(member_client, portal_family, django_assert_max_num_queries):
    for n in range(5):
        earn(portal_family.parent, 10 + n, f"t:{n}")
    with django_assert_max_num_queries(20):
        page = member_client.get(reverse("portal:points"))
    assert page.status_code == 200 and page.content.decode().count("+1") >= 5


def test_coupons_and_their_qr_only_for_the_family(member_client, portal_family, other_family, template):
    mine = coupon_issue(actor=None, template=template, member=portal_family.parent, system=True)
    childs = coupon_issue(actor=None, template=template, member=portal_family.child, system=True)
    theirs = coupon_issue(actor=None, template=template, member=other_family.parent, system=True)
    listing = member_client.get(reverse("portal:coupons")).content.decode()
    assert reverse("portal:coupon_detail", args=[mine.pk]) in listing
    detail = member_client.get(reverse("portal:coupon_detail", args=[mine.pk]))
    assert detail.status_code == 200 and b'data-testid="coupon-qr"' in detail.content
    assert member_client.get(reverse("portal:coupon_qr", args=[mine.pk]))["Content-Type"] == "image/svg+xml"
    # The child's coupon (the parent is the guardian): allowed; another family's: 404.
    assert member_client.get(reverse("portal:coupon_detail", args=[childs.pk])).status_code == 200
    assert member_client.get(reverse("portal:coupon_detail", args=[theirs.pk])).status_code == 404
    assert member_client.get(reverse("portal:coupon_qr", args=[theirs.pk])).status_code == 404
    assert member_client.get(reverse("portal:coupon_qr", args=[10**9])).status_code == 404


def test_redeem_a_coupon_reward_with_the_same_stock_rules(member_client, portal_family, template):
    earn(portal_family.parent, 500, "t:earn")
    item = RewardItem.objects.create(
        name="50元券", kind="coupon", points_cost=200, stock=1, coupon_template=template
    )
    response = member_client.post(reverse("portal:reward_redeem", args=[item.pk]))
    assert response.status_code == 302
    redemption = RewardRedemption.objects.get(item=item)
    assert redemption.member == portal_family.parent and redemption.created_by is None
    assert Coupon.objects.filter(member=portal_family.parent, template=template).exists()
    assert PointsAccount.objects.get(member=portal_family.parent, is_open=True).balance == 300
    row = AuditLog.objects.get(action="loyalty.reward.redeemed")
    assert row.actor is None and row.actor_name.endswith(f"#{portal_family.parent.pk}")
    # Out of stock now: refused, nothing taken.
    member_client.post(reverse("portal:reward_redeem", args=[item.pk]))
    assert RewardRedemption.objects.filter(item=item).count() == 1
    assert PointsAccount.objects.get(member=portal_family.parent, is_open=True).balance == 300


def test_gifts_are_not_redeemed_online_and_short_balance_is_refused(member_client, portal_family, template):
    gift = RewardItem.objects.create(name="电动牙刷", kind="gift", points_cost=10)
    member_client.post(reverse("portal:reward_redeem", args=[gift.pk]))
    coupon = RewardItem.objects.create(name="券", kind="coupon", points_cost=10_000, coupon_template=template)
    member_client.post(reverse("portal:reward_redeem", args=[coupon.pk]))
    assert not RewardRedemption.objects.exists()
    page = member_client.get(reverse("portal:rewards")).content.decode()
    assert "电动牙刷" in page


def test_referral_page_shows_code_friends_and_rewards(member_client, portal_family, branch):
    from loyalty.referrals import referral_code_for, referral_set
    from tests.members.factories import make_member

    friend = make_member(branch, name="赵朋友", phone="13966660001")
    referral_set(actor=None, referee=friend, referrer=portal_family.parent)
    page = member_client.get(reverse("portal:referral")).content.decode()
    assert referral_code_for(portal_family.parent) in page
    assert "赵**" in page and "赵朋友" not in page
    assert reverse("portal:share") in page
    assert member_client.get(reverse("portal:referral_qr"))["Content-Type"] == "image/svg+xml"


def test_profile_edit_is_audited_as_the_member(member_client, portal_family):
    response = member_client.post(
        reverse("portal:profile"),
        {"email": "chen@example.com", "address": "上海市静安区南京西路1号", "preferred_channel": "email"},
    )
    assert response.status_code == 302
    portal_family.parent.refresh_from_db()
    assert (
        portal_family.parent.email == "chen@example.com" and portal_family.parent.preferred_channel == "email"
    )
    row = AuditLog.objects.get(action="members.member.changed", target_id=str(portal_family.parent.pk))
    assert row.actor is None and row.actor_name.startswith("会员 ")


def test_profile_bad_input_is_a_form_error(member_client, portal_family):
    response = member_client.post(
        reverse("portal:profile"), {"email": "not-an-address", "preferred_channel": "wechat"}
    )
    assert response.status_code == 200 and b"is-invalid" in response.content
    portal_family.parent.refresh_from_db()
    assert portal_family.parent.email == ""


def test_marketing_consent_granted_and_withdrawn_at_once(member_client, portal_family):
    member_client.post(reverse("portal:consents"), {"on": ["marketing:sms"]})
    consent = Consent.objects.get(
        member=portal_family.parent, kind="marketing_sms", withdrawn_at__isnull=True
    )
    assert consent.channel == "web"
    # Withdraw: the next marketing message is refused at once.
    member_client.post(reverse("portal:consents"), {})
    consent.refresh_from_db()
    assert consent.withdrawn_at is not None
    with pytest.raises(NotifyRefused):
        member_notify(
            member=portal_family.parent, template_key="portal.login_code", params={}, purpose="marketing"
        )
    assert AuditLog.objects.filter(action="members.consent.withdrawn").count() == 1


def test_care_messages_on_wechat_can_be_refused(member_client, portal_family):
    member_client.post(reverse("portal:profile"), {"wechat_id": "chen_wx"})
    member_client.post(reverse("portal:consents"), {"on": ["marketing:sms"]})  # WeChat care unticked
    assert OptOut.objects.get(channel="wechat", recipient="chen_wx").scope == "all"
    member_client.post(reverse("portal:consents"), {"on": ["care:wechat", "marketing:sms"]})
    assert not OptOut.objects.filter(channel="wechat").exists()


def test_unknown_consent_choice_changes_nothing(member_client, portal_family):
    response = member_client.post(reverse("portal:consents"), {"on": ["marketing:sms", "marketing:fax"]})
    assert response.status_code == 200 and b"alert-danger" in response.content
    assert not Consent.objects.filter(member=portal_family.parent).exists()


def test_child_under_14_gets_no_marketing_consent_from_the_portal(member_client, portal_family):
    member_client.post(reverse("portal:switch", args=[portal_family.child.pk]))
    member_client.post(reverse("portal:consents"), {"on": ["marketing:sms"]})
    assert not Consent.objects.filter(member=portal_family.child).exists()


def test_family_page_lists_who_can_be_managed(member_client, portal_family):
    page = member_client.get(reverse("portal:family")).content.decode()
    assert reverse("portal:switch", args=[portal_family.child.pk]) in page
    assert portal_family.spouse.name in page


def test_another_familys_pages_never_show_this_family(portal_client_for, portal_family, other_family):
    client = portal_client_for(other_family.phone)
    for name in ("portal:home", "portal:points", "portal:coupons", "portal:family", "portal:profile"):
        html = client.get(reverse(name)).content.decode()
        assert portal_family.parent.name not in html and portal_family.child.name not in html, name


def test_language_choice_is_saved_on_the_record(member_client, portal_family):
    response = member_client.post(
        reverse("portal:language"), {"language": "en", "next": reverse("portal:points")}
    )
    assert response["Location"] == reverse("portal:points")
    portal_family.parent.refresh_from_db()
    assert portal_family.parent.language == "en"
    assert "Points" in member_client.get(reverse("portal:points")).content.decode()


def test_recall_due_shows_a_way_to_book(member_client, portal_family, branch):
    from followups.recall_models import Recall, RecallType

    kind = RecallType.objects.create(code="clean", name="洁牙复查", interval_months=6)
    Recall.objects.create(
        member=portal_family.child,
        recall_type=kind,
        branch=branch,
        due_on=timezone.localdate() + dt.timedelta(days=3),
    )
    branch.phone = "+862162881234"
    branch.save()
    html = member_client.get(reverse("portal:home")).content.decode()
    assert "洁牙复查" in html and portal_family.child.name in html
    assert "tel:+862162881234" in html or reverse("portal:home") in html
