"""The portal's part of the URL-walking tests' worlds (tests/clinic/test_url_access.py and the
browser tests): ids of the world family's own rows for every portal URL argument.

Add an entry when you add a portal URL with an argument (append; do not rename)."""

from __future__ import annotations


def portal_world(family, other_family) -> dict:
    """``objects_by_route``: (route prefix, object) for a ``<pk>``; ``values``: other kwargs."""
    import datetime as dt

    from django.utils import timezone

    from portal.models import LoginCode, WeChatIdentity

    # Rows for the admin pages (read-only tables).
    now = timezone.now()
    LoginCode.objects.create(
        phone=family.phone, code_hash="0" * 64, created_at=now, expires_at=now + dt.timedelta(minutes=5)
    )
    WeChatIdentity.objects.get_or_create(
        app_id="wxmatrix", openid="o-matrix", defaults={"phone": family.phone}
    )
    from loyalty.coupon_models import CouponTemplate, RewardItem
    from loyalty.coupons import coupon_issue

    template = CouponTemplate.objects.filter(is_active=True).order_by("pk").first()
    coupon = coupon_issue(actor=None, template=template, member=family.parent, reason="matrix", system=True)
    reward = RewardItem.objects.filter(is_active=True).order_by("pk").first()
    objects_by_route: list[tuple[str, object]] = [
        ("portal/coupons/", coupon),  # the parent's: another family gets 404
        ("portal/rewards/", reward),
    ]
    values = {"member_id": family.child.pk}
    return {"objects_by_route": objects_by_route, "values": values}


def portal_url_kwargs(name: str, member_id: int, objects: dict | None = None) -> dict:
    """URL kwargs of a portal URL for the walkers that only need a well-formed URL
    (tests/e2e/test_accessibility.py, tests/clinic/test_bad_input.py): ``member_id`` is a
    person the walker's member session reaches; ``objects`` may hold ids by kwarg name."""
    from django.urls import get_resolver

    objects = objects or {}
    pattern = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "portal")
    short = name.partition(":")[2]
    route = next(p for p in pattern.url_patterns if p.name == short)
    out = {}
    for key in route.pattern.converters:
        out[key] = member_id if key == "member_id" else objects.get(key, objects.get("pk", member_id))
    return out
