"""Staff performance (docs/reports.md, "Staff performance"; seed 002 员工管理): each person's
figures at a branch over a period, by what they do — consultants, doctors, customer service,
front desk. The same words as the KPIs (a satisfied answer averages 4 of 5; a return is another
checked-out visit within REPORTS_RETURN_MONTHS). Managers read their branch; everyone else
reads only their own rows (views). Frozen into a closed month (month_close)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import db, kpis

VIEW_ALL_PERM = "reports.view_staff_performance"


@dataclass(frozen=True)
class Column:
    code: str
    label: object
    kind: str = "count"  # count | money | ratio | score


@dataclass
class Section:
    code: str
    title: object
    columns: tuple[Column, ...]
    rows: list[dict] = field(default_factory=list)  # {"user_id", "name", <column code>: value}


SECTIONS: dict[str, tuple[object, tuple[Column, ...]]] = {
    "consultants": (
        _("Consultants"),
        (
            Column("consultations", _("Consultations")),
            Column("booked", _("Booked")),
            Column("arrived", _("Arrived")),
            Column("conversion", _("Conversion (arrived ÷ consultations)"), "ratio"),
            Column("revenue", _("Revenue of their bookings"), "money"),
        ),
    ),
    "doctors": (
        _("Doctors"),
        (
            Column("patients", _("Patients")),
            Column("visits", _("Visits")),
            Column("revenue", pgettext_lazy("KPI", "Revenue"), "money"),
            Column("return_rate", _("Return-visit rate"), "ratio"),
            Column("satisfaction", _("Satisfaction"), "ratio"),
            Column("doctor_score", _("Doctor score (1–5)"), "score"),
            Column("complaints", _("Complaints")),
        ),
    ),
    "service": (
        _("Customer service"),
        (
            Column("tasks_due", _("Tasks due")),
            Column("on_time", _("Done on time")),
            Column("on_time_rate", _("On-time rate"), "ratio"),
            Column("attempts", _("Calls and messages")),
            Column("reach_rate", _("Reach rate"), "ratio"),
            Column("call_satisfaction", _("Satisfaction on the call (1–5)"), "score"),
        ),
    ),
    "front_desk": (
        _("Front desk"),
        (
            Column("registrations", _("Registrations")),
            Column("enrolments", _("New members")),
        ),
    ),
}


def _more_tables() -> dict:
    from complaints.models import Complaint
    from followups.models import TaskAttempt
    from marketing.models import Consultation

    return {
        **kpis._tables(),
        "complaint": Complaint._meta.db_table,
        "consultation": Consultation._meta.db_table,
        "attempt": TaskAttempt._meta.db_table,
    }


def _queries() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """Per section, SQL returning (user_id, *figures) with the figure codes it fills."""
    t = _more_tables()
    local = "({} AT TIME ZONE %(tz)s)::date"
    return {
        "consultants": [
            (
                ("consultations", "booked", "arrived", "revenue"),
                f"""SELECT c.consultant_id, count(*),
                       count(*) FILTER (WHERE c.appointment_id IS NOT NULL OR c.booked_on IS NOT NULL),
                       count(*) FILTER (WHERE c.arrived_on IS NOT NULL),
                       COALESCE(sum((SELECT sum(v.amount_paid) FROM {t["visit"]} v
                                     WHERE v.appointment_id = c.appointment_id AND v.status = 'checked_out')), 0)
                    FROM {t["consultation"]} c
                    WHERE c.branch_id = %(b)s AND c."on" >= %(dlo)s AND c."on" < %(dhi)s
                    GROUP BY 1""",
            )
        ],
        "doctors": [
            (
                ("patients", "visits", "revenue", "returned"),
                f"""SELECT v.doctor_id, count(DISTINCT v.member_id), count(*), COALESCE(sum(v.amount_paid), 0),
                       count(DISTINCT v.member_id) FILTER (WHERE EXISTS (
                           SELECT 1 FROM {t["visit"]} w WHERE w.member_id = v.member_id AND w.status = 'checked_out'
                           AND w.checked_out_at > v.checked_out_at
                           AND w.checked_out_at <= v.checked_out_at + %(months)s::interval))
                    FROM {t["visit"]} v
                    WHERE v.branch_id = %(b)s AND v.status = 'checked_out' AND v.doctor_id IS NOT NULL
                      AND v.checked_out_at >= %(lo)s AND v.checked_out_at < %(hi)s
                    GROUP BY 1""",
            ),
            (
                ("answers", "satisfied", "doctor_score"),
                f"""SELECT s.doctor_id, count(*),
                       count(*) FILTER (WHERE s.doctor_score + s.front_desk_score + s.environment_score
                                              + s.waiting_score >= 16),
                       avg(s.doctor_score)
                    FROM {t["survey"]} s
                    WHERE s.branch_id = %(b)s AND s.visit_on >= %(dlo)s AND s.visit_on < %(dhi)s
                    GROUP BY 1""",
            ),
            (
                # A complaint is the doctor's when it names them, else when it is about a visit
                # they treated; received in the period.
                ("complaints",),
                f"""SELECT COALESCE(c.staff_id, v.doctor_id), count(*)
                    FROM {t["complaint"]} c LEFT JOIN {t["visit"]} v ON v.id = c.visit_id
                    WHERE c.branch_id = %(b)s AND c.received_at >= %(lo)s AND c.received_at < %(hi)s
                      AND COALESCE(c.staff_id, v.doctor_id) IS NOT NULL
                    GROUP BY 1""",
            ),
        ],
        "service": [
            (
                ("tasks_due", "on_time"),
                f"""SELECT k.assignee_id, count(*) FILTER (WHERE k.status <> 'cancelled'),
                       count(*) FILTER (WHERE k.status = 'done' AND {local.format("k.closed_at")} <= k.due_on)
                    FROM {t["task"]} k
                    WHERE k.branch_id = %(b)s AND k.assignee_id IS NOT NULL
                      AND k.due_on >= %(dlo)s AND k.due_on < %(dhi)s
                    GROUP BY 1""",
            ),
            (
                ("attempts", "reached", "call_satisfaction"),
                f"""SELECT a.actor_id, count(*), count(*) FILTER (WHERE a.outcome = 'reached'), avg(a.satisfaction)
                    FROM {t["attempt"]} a JOIN {t["task"]} k ON k.id = a.task_id
                    WHERE k.branch_id = %(b)s AND a.actor_id IS NOT NULL AND a.at >= %(lo)s AND a.at < %(hi)s
                    GROUP BY 1""",
            ),
        ],
        "front_desk": [
            (
                ("registrations",),
                f"""SELECT m.created_by_id, count(*) FROM {t["member"]} m
                    WHERE m.branch_id = %(b)s AND m.created_by_id IS NOT NULL AND m.status <> 'merged'
                      AND m.created_at >= %(lo)s AND m.created_at < %(hi)s
                    GROUP BY 1""",
            ),
            (
                ("enrolments",),
                f"""SELECT ms.enrolled_by_id, count(*) FROM {t["membership"]} ms
                    WHERE ms.branch_id = %(b)s AND ms.enrolled_by_id IS NOT NULL
                      AND ms.enrolled_at >= %(lo)s AND ms.enrolled_at < %(hi)s
                    GROUP BY 1""",
            ),
        ],
    }


def _ratio(num, den) -> Decimal | None:
    return None if not den else (Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"))


def _derive(code: str, r: dict) -> None:
    if code == "consultants":
        r["conversion"] = _ratio(r.get("arrived", 0), r.get("consultations", 0))
    elif code == "doctors":
        r["return_rate"] = _ratio(r.get("returned", 0), r.get("patients", 0))
        r["satisfaction"] = _ratio(r.get("satisfied", 0), r.get("answers", 0))
    elif code == "service":
        r["on_time_rate"] = _ratio(r.get("on_time", 0), r.get("tasks_due", 0))
        r["reach_rate"] = _ratio(r.get("reached", 0), r.get("attempts", 0))


def performance(branch, lo: dt.date, hi: dt.date, *, user_id: int | None = None) -> list[Section]:
    """Every section's rows for the local days [lo, hi); only ``user_id``'s rows when given."""
    from clinic.models import StaffProfile

    start, end = kpis.period_bounds(lo, hi)
    months = getattr(settings, "REPORTS_RETURN_MONTHS", 6)
    params = {
        "b": branch.pk,
        "lo": start,
        "hi": end,
        "dlo": lo,
        "dhi": hi,
        "tz": settings.TIME_ZONE,
        "months": f"{int(months)} months",
    }
    found: dict[str, dict[int, dict]] = {}
    with db.read_cursor() as cursor:
        for code, queries in _queries().items():
            rows: dict[int, dict] = {}
            for columns, sql in queries:
                cursor.execute(sql, params)
                for uid, *values in cursor.fetchall():
                    if user_id is not None and uid != user_id:
                        continue
                    target = rows.setdefault(uid, {})
                    for col, value in zip(columns, values, strict=True):
                        target[col] = value
            found[code] = rows
    ids = {uid for rows in found.values() for uid in rows}
    names = dict(StaffProfile.objects.filter(user_id__in=ids).values_list("user_id", "full_name"))
    if ids - set(names):
        from django.contrib.auth import get_user_model

        for uid, username in (
            get_user_model().objects.filter(pk__in=ids - set(names)).values_list("pk", "username")
        ):
            names[uid] = username
    out = []
    for code, (title, columns) in SECTIONS.items():
        section = Section(code, title, columns)
        for uid, r in found[code].items():
            if code == "doctors" and not r.get("visits") and not r.get("answers"):
                continue
            _derive(code, r)
            section.rows.append({"user_id": uid, "name": names.get(uid, "—"), **r})
        first = columns[0].code
        section.rows.sort(key=lambda r: (-(r.get(first) or 0), r["name"]))
        out.append(section)
    return out


def dump(sections: list[Section]) -> dict:
    """JSON for a closed month: {section: [{user_id, name, column: "decimal" | null}]}."""
    out = {}
    for s in sections:
        out[s.code] = [
            {
                "user_id": r["user_id"],
                "name": r["name"],
                **{c.code: (None if r.get(c.code) is None else str(r.get(c.code))) for c in s.columns},
            }
            for r in s.rows
        ]
    return out


def load(data: dict) -> list[Section]:
    out = []
    for code, (title, columns) in SECTIONS.items():
        rows = []
        for r in data.get(code, []):
            row = {"user_id": r.get("user_id"), "name": r.get("name", "—")}
            for c in columns:
                v = r.get(c.code)
                row[c.code] = None if v is None else Decimal(v)
            rows.append(row)
        out.append(Section(code, title, columns, rows))
    return out
