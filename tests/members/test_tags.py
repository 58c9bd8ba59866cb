"""Tags and printed coupon batches outside Django admin: marketing's pages (issue 16)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from clinic.models import AuditLog
from loyalty.coupon_models import CouponBatch, CouponTemplate
from members import services
from members.errors import MemberError
from members.models import Tag
from tests.members.factories import make_member

pytestmark = pytest.mark.django_db


def test_tags_are_created_and_renamed_once_and_audited(marketer):
    tag = services.tag_create(actor=marketer, name="  种植 意向 ", color="warning")
    assert (tag.name, tag.color) == ("种植 意向", "warning")
    with pytest.raises(MemberError) as err:
        services.tag_create(actor=marketer, name="种植 意向", color="info")
    assert err.value.field == "name"
    for bad in ({"name": ""}, {"name": "x" * 31}, {"color": "pink"}):
        with pytest.raises(MemberError):
            services.tag_create(actor=marketer, **{"name": "新", "color": "info", **bad})
    services.tag_update(actor=marketer, tag=tag, name="种植意向", color="warning")
    tag.refresh_from_db()
    assert tag.name == "种植意向"
    log = AuditLog.objects.filter(action="members.tag.changed").get()
    assert log.changes == {"name": ["种植 意向", "种植意向"]}
    assert Tag.objects.count() == 1 and AuditLog.objects.filter(action="members.tag.created").count() == 1


def test_the_tags_page_counts_the_viewers_branch_and_saves(client_for, marketer, branch, other_branch):
    vip = Tag.objects.create(name="VIP")
    make_member(branch, name="甲").tags.add(vip)
    make_member(other_branch, name="乙").tags.add(vip)  # another branch: not counted for 静安's marketer
    client = client_for(marketer)
    page = client.get(reverse("members:tags")).content.decode()
    assert 'data-tag="VIP"' in page
    row = page.split('data-tag="VIP"')[1].split("</tr>")[0]
    assert '<td class="text-end">1</td>' in row
    bad = client.post(reverse("members:tags"), {"name": "vip", "color": "info"})
    assert bad.status_code == 400 and "已有名为" in bad.content.decode()
    assert client.post(reverse("members:tags"), {"name": "儿童", "color": "info"}).status_code == 302
    assert Tag.objects.filter(name="儿童").exists()
    tag = Tag.objects.get(name="儿童")
    client.post(
        reverse("members:tag_edit", kwargs={"tag_id": tag.pk}), {"name": "儿童早矫", "color": "success"}
    )
    tag.refresh_from_db()
    assert (tag.name, tag.color) == ("儿童早矫", "success")


def test_the_front_desk_may_not_manage_tags(client_for, front_desk):
    assert client_for(front_desk).get(reverse("members:tags")).status_code == 403


def test_marketing_prints_a_coupon_batch_from_its_page(client_for, marketer, branch):
    template = CouponTemplate.objects.filter(is_active=True).first() or CouponTemplate.objects.create(
        name="洁牙立减50", kind="amount", amount_off=50, valid_days=90
    )
    client = client_for(marketer)
    page = client.get(reverse("loyalty:coupon_batch_create"))
    assert page.status_code == 200
    # Neither a marketer nor a channel: refused with the reason, nothing printed.
    data = {"template": template.pk, "name": "地推一号", "count": "20", "branch": branch.pk}
    bad = client.post(reverse("loyalty:coupon_batch_create"), data)
    assert bad.status_code == 400 and not CouponBatch.objects.exists()
    done = client.post(reverse("loyalty:coupon_batch_create"), {**data, "marketer": marketer.pk})
    assert done.status_code == 302
    batch = CouponBatch.objects.get()
    assert (batch.end_no - batch.start_no + 1, batch.marketer_id, batch.coupons.count()) == (
        20,
        marketer.pk,
        20,
    )
    assert (
        client.post(
            reverse("loyalty:coupon_batch_create"), {**data, "count": "0", "channel": "x"}
        ).status_code
        == 400
    )
