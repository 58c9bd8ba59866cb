"""The member portal's pages, as a member's phone asks for them: server time per page (p95)
and what a first visit transfers (HTML, gzip as whitenoise serves it, plus the page's own
static files and images), among a population of synthetic people made with COPY.

    python -m benchmarks.portal            # 200 000 people in the table, 40 requests a page
    python -m benchmarks.portal --small    # 20 000 people, 15 requests a page

The floor: the raw SQL of the phone lookup every portal request makes (who the phone reaches).
Ends with ``BENCH portal pages=<n> page_p95_ms_max=<x> page_kb_max=<x> floor_ms=<x>``.
"""

from __future__ import annotations

import gzip
import re

from benchmarks._common import (
    bench_line,
    p95,
    parser,
    raw_sql,
    setup_django,
    summary,
    synthetic_people,
    time_calls,
)

MARK = "portal-bench"
PAGES = [
    "portal:home",
    "portal:points",
    "portal:coupons",
    "portal:rewards",
    "portal:referral",
    "portal:profile",
    "portal:consents",
    "portal:family",
    "portal:me",
]


def _family(branch):
    """The benchmark's family (a parent with a long points history and coupons, a child)."""
    from loyalty import coupons
    from loyalty.coupon_models import CouponKind, CouponTemplate
    from loyalty.models import Membership, PointsEntry
    from loyalty.services import membership_enrol, points_earn
    from members import services as member_services
    from members.models import Member, Stage

    phone = "+8617799990001"
    parent = Member.objects.filter(name="门户基准家长", phone=phone).first()
    if parent is None:
        parent = member_services.member_register(
            actor=None,
            branch=branch,
            name="门户基准家长",
            phone=phone[3:],
            stage=Stage.PATIENT,
            allow_duplicate=True,
        )
        child = member_services.member_register(
            actor=None,
            branch=branch,
            name="门户基准孩子",
            phone="",
            stage=Stage.PATIENT,
            allow_duplicate=True,
        )
        member_services.family_link_add(
            actor=None, member=child, relative=parent, relation="parent", is_guardian=True
        )
    if not Membership.objects.filter(member=parent).exists():
        membership_enrol(actor=None, member=parent, branch=branch, welcome_points=0)
    have = PointsEntry.objects.filter(account__member=parent).count()
    for i in range(have, 300):
        points_earn(actor=None, member=parent, points=10, idempotency_key=f"{MARK}:{i}")
    template, _ = CouponTemplate.objects.get_or_create(
        name="门户基准券（不限张数）",
        defaults={"kind": CouponKind.AMOUNT, "amount_off": 20, "per_member_limit": 0},
    )
    for i in range(30):
        coupons.coupon_issue(
            actor=None, template=template, member=parent, issue_key=f"{MARK}:coupon:{i}", system=True
        )
    return phone


def _assets(html: str) -> list[str]:
    """What the browser loads with the page (images, scripts, style sheets, icon), not links."""
    return re.findall(r'(?:\bsrc="|<link\b[^>]*\bhref=")(/[^"]+)"', html)


def _asset_bytes(client, url: str) -> int:
    """What one asset costs on a first visit: gzip for text (whitenoise serves it
    compressed), the bytes of the file for images; a static file is read where
    ``collectstatic`` would take it from (a benchmark runs without collecting)."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    if url.startswith(settings.STATIC_URL):
        path = finders.find(url[len(settings.STATIC_URL) :])
        data = open(path, "rb").read() if path else b""  # noqa: SIM115
    else:
        response = client.get(url)
        data = b"".join(response.streaming_content) if response.streaming else response.content
    return len(data) if url.endswith((".png", ".woff2")) else len(gzip.compress(data))


def main() -> None:
    args_parser = parser("Member portal page benchmark")
    args_parser.add_argument("--people", type=int)
    args = args_parser.parse_args()
    setup_django()

    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from clinic.models import Branch
    from tests.portal.conftest import portal_login

    settings.ALLOWED_HOSTS = ["*"]
    people = args.people or (20_000 if args.small else 200_000)
    repeat = 15 if args.small else 40
    branch, _ = Branch.objects.get_or_create(code="PB", defaults={"name": "门户基准门店"})
    synthetic_people(people, branch.pk, mark=MARK, name="门户", stage="patient", phones=True)
    phone = _family(branch)
    client = portal_login(Client(), phone)
    floor = time_calls(
        raw_sql(
            "SELECT m.id FROM members_member m WHERE m.phone = %s AND m.status = 'active' UNION "
            "SELECT l.member_id FROM members_familylink l JOIN members_member p ON p.id = l.relative_id "
            "WHERE p.phone = %s AND l.is_guardian",
            [phone, phone],
        ),
        repeat,
    )
    print(f"floor (phone lookup, raw SQL): {summary(floor)}", flush=True)
    cached: dict[str, int] = {}
    worst_ms, worst_kb = 0.0, 0.0
    for name in PAGES:
        url = reverse(name)
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        samples = time_calls(lambda url=url: client.get(url), repeat)
        html = response.content
        kb = len(gzip.compress(html))
        for asset in _assets(html.decode()):
            if asset not in cached:
                cached[asset] = _asset_bytes(client, asset)
            kb += cached[asset]
        kb /= 1024
        worst_ms, worst_kb = max(worst_ms, p95(samples)), max(worst_kb, kb)
        print(f"{name:<18} {summary(samples)} first visit {kb:.1f} KB", flush=True)
    bench_line(
        "portal",
        pages=len(PAGES),
        page_p95_ms_max=worst_ms,
        page_kb_max=worst_kb,
        floor_ms=p95(floor),
        people=people,
    )


if __name__ == "__main__":
    main()
