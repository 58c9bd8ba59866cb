"""Care (关怀): birthday greetings (with loyalty's birthday coupon when one is configured),
holiday greetings for HQ's list (lunar dates through ``lunardate``) and anniversaries (first
visit, enrolment). All through the outbox with ``recall_notify``'s rules: the person's
channel, quiet hours, opt-outs, and never to a person who refuses all marketing. Each
message has a dedupe key per person, occasion and year, so a re-run sends nothing twice.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging

from django.db import connection, transaction
from django.utils import timezone, translation
from lunardate import LunarDate

from clinic.notifications.models import MessageTemplate
from loyalty.coupon_models import Coupon
from loyalty.models import Membership
from members.models import Member, MemberStatus, Stage

from .dormancy import care_policy
from .models import CareHoliday, HolidayCalendar
from .recall_notify import after_quiet_hours, care_notify

log = logging.getLogger(__name__)

_PEOPLE = {"status": MemberStatus.ACTIVE, "marketing_opt_out": False}


def holiday_date(holiday: CareHoliday, year: int) -> dt.date | None:
    """The Gregorian day of ``holiday`` in ``year`` (a lunar month without a 30th day: the
    29th). None when the day does not exist (29 February of a common year)."""
    if holiday.calendar == HolidayCalendar.SOLAR:
        try:
            return dt.date(year, holiday.month, holiday.day)
        except ValueError:
            return None
    for day in (holiday.day, holiday.day - 1):
        try:
            return LunarDate(year, holiday.month, day).to_solar_date()
        except ValueError:
            continue
    return None


def holidays_on(day: dt.date) -> list[CareHoliday]:
    return [h for h in CareHoliday.objects.filter(is_active=True) if holiday_date(h, day.year) == day]


def _birthday_days(today: dt.date) -> list[int]:
    days = [today.day]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append(29)
    return days


def birthdays_greet(*, today: dt.date | None = None) -> int:
    """Greet everyone whose birthday is today; the birthday coupon loyalty issues (once a
    year, ``coupons_birthday_issue``) is issued first and named in the message."""
    from loyalty.auto_coupons import coupons_birthday_issue

    today = today or timezone.localdate()
    if not care_policy().birthday_enabled:
        return 0
    coupons_birthday_issue(today=today)
    people = Member.objects.filter(
        **_PEOPLE, birth_date__month=today.month, birth_date__day__in=_birthday_days(today)
    ).select_related("branch")
    coupons = dict(
        Coupon.objects.filter(issue_key__startswith=f"birthday:{today.year}:")
        .select_related("template")
        .values_list("issue_key", "template__name")
    )
    sent = 0
    for member in people.iterator(chunk_size=2000):
        coupon = coupons.get(f"birthday:{today.year}:{member.pk}")
        params = {"name": member.name, "branch": member.branch.display_name}
        if coupon:
            params["coupon"] = coupon
        with transaction.atomic():
            row = care_notify(
                member=member,
                template_key="followups.birthday_coupon" if coupon else "followups.birthday",
                params=params,
                dedupe_key=f"care:birthday:{today.year}:{member.pk}",
                greeting=True,
            )
        sent += bool(row is not None and row.was_created)
    return sent


def anniversaries_greet(*, today: dt.date | None = None) -> int:
    """Greet people on the anniversary of their first visit and of their enrolment (a
    whole number of years, at least one)."""
    today = today or timezone.localdate()
    if not care_policy().anniversary_enabled:
        return 0
    days = _birthday_days(today)
    tz = timezone.get_current_timezone_name()
    with connection.cursor() as cur:
        cur.execute(
            """SELECT v.member_id, MIN((v.checked_out_at AT TIME ZONE %s)::date) AS first
                 FROM appointments_visit v WHERE v.status IN ('checked_out', 'voided') AND v.checked_out_at IS NOT NULL
                GROUP BY v.member_id
               HAVING EXTRACT(MONTH FROM MIN((v.checked_out_at AT TIME ZONE %s)::date)) = %s
                  AND EXTRACT(DAY FROM MIN((v.checked_out_at AT TIME ZONE %s)::date)) = ANY(%s)
                  AND EXTRACT(YEAR FROM MIN((v.checked_out_at AT TIME ZONE %s)::date)) < %s""",
            [tz, tz, today.month, tz, days, tz, today.year],
        )
        first_visits = dict(cur.fetchall())
    enrolments = {
        m.member_id: timezone.localtime(m.enrolled_at).date()
        for m in Membership.objects.filter(enrolled_at__month=today.month, enrolled_at__year__lt=today.year)
        if timezone.localtime(m.enrolled_at).date().day in days
    }
    sent = 0
    for kind, found in (("visit", first_visits), ("enrol", enrolments)):
        for member in Member.objects.filter(pk__in=list(found), **_PEOPLE).select_related("branch"):
            years = today.year - found[member.pk].year
            with transaction.atomic():
                row = care_notify(
                    member=member,
                    template_key=f"followups.anniversary_{kind}",
                    params={"name": member.name, "years": years, "branch": member.branch.display_name},
                    dedupe_key=f"care:anniversary:{kind}:{today.year}:{member.pk}",
                    greeting=True,
                )
            sent += bool(row is not None and row.was_created)
    return sent


# The holiday greeting goes to every active patient and member at once: one INSERT … SELECT
# into the outbox with the same rules as ``member_notify`` (active record, an address, no
# opt-out of all messages) plus the greeting rule (no marketing refusal).
_HOLIDAY_SQL = """
INSERT INTO notifications_outbox (dedupe_key, channel, recipient, template_key, language, params, purpose,
       consent_ref, branch_id, status, attempts, not_before, next_attempt_at, claim_token, last_error,
       provider_message_id, body, created_by_id, created_at)
SELECT %(prefix)s || m.id, c.channel, c.recipient, %(template)s, m.language,
       jsonb_build_object('name', m.name,
                          'holiday', CASE WHEN m.language LIKE 'en%%' AND %(name_en)s <> '' THEN %(name_en)s
                                          ELSE %(name)s END),
       'service', '', m.branch_id, 'pending', 0, %(not_before)s, COALESCE(%(not_before)s, now()), '', '', '', '',
       NULL, now()
  FROM members_member m
 CROSS JOIN LATERAL (
       SELECT CASE WHEN m.wechat_id <> '' AND %(wechat)s THEN 'wechat' ELSE 'sms' END AS channel,
              CASE WHEN m.wechat_id <> '' AND %(wechat)s THEN m.wechat_id ELSE m.phone END AS recipient
       ) c
 WHERE m.status = 'active' AND NOT m.marketing_opt_out AND m.stage IN (%(patient)s, %(member)s)
   AND c.recipient <> ''
   AND NOT EXISTS (SELECT 1 FROM notifications_optout o
                    WHERE o.channel = c.channel AND o.recipient = c.recipient AND o.scope = 'all')
ON CONFLICT (dedupe_key) DO NOTHING
"""


def holidays_greet(*, today: dt.date | None = None) -> int:
    """Queue today's holiday greetings (set-based). Returns how many were queued now."""
    today = today or timezone.localdate()
    queued = 0
    for holiday in holidays_on(today):
        has = set(
            MessageTemplate.objects.filter(key=holiday.template_key, is_active=True).values_list(
                "channel", flat=True
            )
        )
        if "sms" not in has:
            log.error("holiday greeting %s: no active SMS template %s", holiday.code, holiday.template_key)
            continue
        params = {
            "prefix": f"care:holiday:{holiday.code}:{today.year}:",
            "template": holiday.template_key,
            "name": holiday.name,
            "name_en": holiday.name_en,
            "not_before": after_quiet_hours(),
            "wechat": "wechat" in has,
            "patient": Stage.PATIENT,
            "member": Stage.MEMBER,
        }
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(_HOLIDAY_SQL, params)
            queued += cur.rowcount
    return queued


def care_run(*, today: dt.date | None = None) -> dict[str, int]:
    """The daily care job: birthdays, holidays, anniversaries."""
    today = today or timezone.localdate()
    with translation.override("zh-hans"):
        return {
            "birthdays": birthdays_greet(today=today),
            "holidays": holidays_greet(today=today),
            "anniversaries": anniversaries_greet(today=today),
        }


__all__ = ["anniversaries_greet", "birthdays_greet", "care_run", "holiday_date", "holidays_greet"]
