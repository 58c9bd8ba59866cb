"""Marketing analysis of the people a branch gained (docs/reports.md, "Marketing analysis";
seed 002 营销分析: 科室、病种、信息来源、开发渠道、区域): the people registered in a period,
grouped by acquisition channel, consultant, referral partner, district of address, age band,
gender or the service category of their first paid treatment — how many, how many became
patients (a paid visit), how many came back (a second paid visit), and their revenue to date.
The funnel of consultations by channel, consultant and partner is marketing's own page; a
campaign's results (cost per new patient) are on the campaign."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from . import db, kpis

DIMENSIONS = {
    "channel": _("Acquisition channel"),
    "consultant": _("Consultant"),
    "partner": _("Referral partner"),
    "district": _("District"),
    "age_band": _("Age band"),
    "gender": _("Gender"),
    "category": _("First treatment"),
}
AGE_BANDS = (
    ("0-11", _("Children (0–11)")),
    ("12-17", _("Teenagers (12–17)")),
    ("18-29", _("18–29")),
    ("30-44", _("30–44")),
    ("45-59", _("45–59")),
    ("60+", _("60 and over")),
)
# A district is the first 区 or 县 of the address after its city (上海市静安区… → 静安区).
_DISTRICT = (
    "COALESCE(substring(m.address from '市([^市区县]{1,5}[区县])'), "
    "substring(m.address from '^([^省市区县]{1,5}[区县])'), '')"
)


def _key_sql(dimension: str, t: dict) -> tuple[str, str]:
    """(key expression, extra joins) of a dimension."""
    if dimension == "channel":
        return "COALESCE(m.channel_id::text, '')", ""
    if dimension == "consultant":
        return "COALESCE(m.consultant_id::text, '')", ""
    if dimension == "partner":
        return "COALESCE(at.partner_id::text, '')", f"LEFT JOIN {t['attribution']} at ON at.member_id = m.id"
    if dimension == "district":
        return _DISTRICT, ""
    if dimension == "gender":
        return "m.gender", ""
    if dimension == "age_band":
        age = "date_part('year', age(%(asof)s::date, m.birth_date))"
        return (
            f"CASE WHEN m.birth_date IS NULL THEN '' WHEN {age} < 12 THEN '0-11' WHEN {age} < 18 THEN '12-17' "
            f"WHEN {age} < 30 THEN '18-29' WHEN {age} < 45 THEN '30-44' WHEN {age} < 60 THEN '45-59' ELSE '60+' END",
            "",
        )
    if dimension == "category":
        return (
            f"""COALESCE((SELECT si.category_id::text FROM {t["visit"]} fv
                 JOIN {t["line"]} cl ON cl.visit_id = fv.id JOIN {t["item"]} si ON si.id = cl.item_id
                 WHERE fv.member_id = m.id AND fv.status = 'checked_out'
                 ORDER BY fv.checked_out_at, cl.id LIMIT 1), '')""",
            "",
        )
    raise KeyError(dimension)


def _tables() -> dict:
    from appointments.models import ChargeLine
    from clinic.models import ServiceItem
    from marketing.models import Attribution

    return {
        **kpis._tables(),
        "attribution": Attribution._meta.db_table,
        "line": ChargeLine._meta.db_table,
        "item": ServiceItem._meta.db_table,
    }


@dataclass
class Group:
    key: str
    label: str
    people: int
    patients: int
    returned: int
    revenue: Decimal

    @property
    def conversion(self) -> Decimal | None:
        return None if not self.people else (Decimal(self.patients) / self.people).quantize(Decimal("0.0001"))

    @property
    def return_rate(self) -> Decimal | None:
        return (
            None
            if not self.patients
            else (Decimal(self.returned) / self.patients).quantize(Decimal("0.0001"))
        )

    @property
    def revenue_per_person(self) -> Decimal | None:
        return None if not self.people else (self.revenue / self.people).quantize(Decimal("0.01"))


def analysis(branch, dimension: str, lo: dt.date, hi: dt.date) -> list[Group]:
    """One row per value of ``dimension`` among the people registered at ``branch`` in [lo, hi)."""
    t = _tables()
    key, joins = _key_sql(dimension, t)
    start, end = kpis.period_bounds(lo, hi)
    sql = f"""
        WITH p AS (
            SELECT m.id, {key} AS key FROM {t["member"]} m {joins}
            WHERE m.branch_id = %(b)s AND m.created_at >= %(lo)s AND m.created_at < %(hi)s
              AND m.status <> 'merged'
        ), v AS (
            SELECT v.member_id, count(*) AS n, sum(v.amount_paid) AS paid FROM {t["visit"]} v
            WHERE v.status = 'checked_out' AND v.member_id IN (SELECT id FROM p) GROUP BY 1
        )
        SELECT p.key, count(*), count(v.member_id), count(*) FILTER (WHERE v.n >= 2), COALESCE(sum(v.paid), 0)
        FROM p LEFT JOIN v ON v.member_id = p.id GROUP BY 1"""
    params = {
        "b": branch.pk,
        "lo": start,
        "hi": end,
        "asof": hi - dt.timedelta(days=1),
        "tz": settings.TIME_ZONE,
    }
    with db.read_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    labels = _labels(dimension, {r[0] for r in rows})
    groups = [
        Group(k, labels.get(k) or str(_("Not recorded")), n, pat, ret, Decimal(rev))
        for k, n, pat, ret, rev in rows
    ]
    groups.sort(key=lambda g: (-g.people, g.label))
    return groups


def _labels(dimension: str, keys: set[str]) -> dict[str, str]:
    ids = [int(k) for k in keys if k and k.isdigit()]
    if dimension == "channel":
        from members.models import AcquisitionChannel

        return {str(c.pk): str(c) for c in AcquisitionChannel.objects.filter(pk__in=ids)}
    if dimension == "consultant":
        from clinic.models import StaffProfile

        return {
            str(u): n
            for u, n in StaffProfile.objects.filter(user_id__in=ids).values_list("user_id", "full_name")
        }
    if dimension == "partner":
        from marketing.models import Partner

        return {str(p.pk): p.name for p in Partner.objects.filter(pk__in=ids)}
    if dimension == "category":
        from clinic.models import ServiceCategory

        return {str(c.pk): str(c) for c in ServiceCategory.objects.filter(pk__in=ids)}
    if dimension == "gender":
        from members.models import Gender

        return {k: str(v) for k, v in Gender.choices if k}
    if dimension == "age_band":
        return {k: str(v) for k, v in AGE_BANDS}
    return {k: k for k in keys if k}  # district: the text itself


def totals(groups: list[Group]) -> Group:
    return Group(
        "",
        str(_("All")),
        sum(g.people for g in groups),
        sum(g.patients for g in groups),
        sum(g.returned for g in groups),
        sum((g.revenue for g in groups), Decimal(0)),
    )
