"""Demo data that tells a living story. Idempotent: run it as often as you like.

Later capabilities extend this command (members in every tier, points about to expire,
today's bookings, coupons, follow-ups due).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

from clinic import services
from clinic.models import Branch, OpeningHours, Role, ServiceCategory, ServiceItem, StaffProfile
from clinic.notifications.demo import seed_notifications

User = get_user_model()

DEMO_PASSWORD = "Demo@2026"

BRANCHES = [
    {
        "code": "JA",
        "name": "微笑口腔·静安店",
        "name_en": "Smile Dental · Jing'an",
        "address": "上海市静安区南京西路 1266 号 3 楼",
        "phone": "+862162881234",
    },
    {
        "code": "PD",
        "name": "微笑口腔·浦东店",
        "name_en": "Smile Dental · Pudong",
        "address": "上海市浦东新区张杨路 500 号 2 楼",
        "phone": "+862158765432",
    },
]

# (username, full name, role, job title, branch codes)
STAFF = [
    ("frontdesk", "林晓雯", Role.FRONT_DESK, "前台主管", ["JA"]),
    ("consultant", "王佳怡", Role.CONSULTANT, "咨询师", ["JA"]),
    ("doctor", "陈志强", Role.DOCTOR, "主治医师", ["JA", "PD"]),
    ("nurse", "刘芳", Role.NURSE, "护士长", ["JA"]),
    ("service", "赵敏", Role.CUSTOMER_SERVICE, "客服专员", ["JA", "PD"]),
    ("marketing", "孙磊", Role.MARKETING, "市场专员", ["JA", "PD"]),
    ("manager", "周静", Role.BRANCH_MANAGER, "店长", ["JA"]),
    ("hqadmin", "吴总", Role.HQ_ADMIN, "运营总监", ["JA", "PD"]),
    ("frontdesk_pd", "黄丽", Role.FRONT_DESK, "前台", ["PD"]),
    ("stock", "郑海涛", Role.STOCK_KEEPER, "库管", ["JA", "PD"]),
]

TRAINEE_ROLE = "前台（实习）"
TRAINEE_PERMISSIONS = [
    "clinic.view_servicecategory",
    "clinic.view_serviceitem",
    "clinic.view_branch",
    "members.view_member",
    "appointments.view_appointment",
    "loyalty.view_coupon",
]

# code, name, name_en, basic care, items: (code, name, name_en, price, unit, minutes, per_tooth)
CATALOG = [
    (
        "EXAM",
        "检查诊断",
        "Examination & diagnosis",
        True,
        [
            ("EX01", "口腔检查", "Oral examination", "50", "次", 15, False),
            ("EX02", "全景片", "Panoramic X-ray", "150", "张", 10, False),
            ("EX03", "CBCT", "CBCT scan", "480", "次", 15, False),
            ("EX04", "根尖片", "Periapical X-ray", "30", "张", 5, False),
        ],
    ),
    (
        "PREV",
        "预防保健",
        "Prevention",
        True,
        [
            ("PV01", "超声洁牙", "Ultrasonic cleaning", "280", "次", 45, False),
            ("PV02", "喷砂抛光", "Air polishing", "180", "次", 20, False),
            ("PV03", "涂氟", "Fluoride varnish", "120", "次", 15, False),
            ("PV04", "窝沟封闭", "Pit and fissure sealant", "150", "颗", 20, True),
        ],
    ),
    (
        "ENDO",
        "牙体牙髓",
        "Restorative & endodontics",
        False,
        [
            ("EN01", "树脂补牙", "Composite filling", "400", "颗", 40, True),
            ("EN02", "根管治疗（前牙）", "Root canal (anterior)", "1200", "颗", 60, True),
            ("EN03", "根管治疗（磨牙）", "Root canal (molar)", "2200", "颗", 90, True),
        ],
    ),
    (
        "SURG",
        "口腔外科",
        "Oral surgery",
        False,
        [
            ("SU01", "普通拔牙", "Simple extraction", "300", "颗", 30, True),
            ("SU02", "智齿拔除", "Wisdom tooth extraction", "1200", "颗", 60, True),
        ],
    ),
    (
        "IMPL",
        "种植",
        "Implants",
        False,
        [
            ("IM01", "种植体（国产）", "Implant (domestic)", "6800", "颗", 90, True),
            ("IM02", "种植体（进口）", "Implant (imported)", "12800", "颗", 90, True),
            ("IM03", "骨粉植骨", "Bone graft", "3000", "次", 45, False),
        ],
    ),
    (
        "ORTH",
        "正畸",
        "Orthodontics",
        False,
        [
            ("OR01", "金属托槽矫正", "Metal braces", "15000", "疗程", 60, False),
            ("OR02", "隐形矫正", "Clear aligners", "32000", "疗程", 60, False),
            ("OR03", "保持器", "Retainer", "1500", "副", 30, False),
        ],
    ),
    (
        "AEST",
        "美容修复",
        "Cosmetic & prosthetics",
        False,
        [
            ("AE01", "冷光美白", "Cold-light whitening", "1980", "次", 60, False),
            ("AE02", "全瓷冠", "All-ceramic crown", "4500", "颗", 60, True),
            ("AE03", "瓷贴面", "Porcelain veneer", "3800", "颗", 60, True),
        ],
    ),
    (
        "PEDO",
        "儿童牙科",
        "Paediatric dentistry",
        True,
        [
            ("PE01", "儿童涂氟", "Children's fluoride varnish", "100", "次", 15, False),
            ("PE02", "乳牙充填", "Primary tooth filling", "300", "颗", 30, True),
        ],
    ),
]

HOURS = {
    "JA": [(d, dt.time(9), dt.time(21 if d < 5 else 18)) for d in range(7)],
    "PD": [(d, dt.time(9, 30), dt.time(18, 30)) for d in range(7) if d != 0],
}


class Command(BaseCommand):
    help = "Load the demo clinic (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args, quiet: bool = False, **options):
        # The demo staff share one known password: never on a real clinic's database.
        if not settings.DEMO_DATA_ALLOWED:
            raise CommandError(
                "seed_demo refuses to run here: DEMO_DATA_ALLOWED is off (production settings). "
                "The demo logins share a published password."
            )
        self._seed(quiet=quiet)

    @transaction.atomic
    def _seed(self, *, quiet: bool):
        actor = None  # the system
        branches = {}
        for data in BRANCHES:
            branch = Branch.objects.filter(code=data["code"]).first() or Branch(code=data["code"])
            for key, value in data.items():
                setattr(branch, key, value)
            branches[data["code"]] = services.record_save(actor=actor, instance=branch)
        for code, rows in HOURS.items():
            for weekday, opens, closes in rows:
                hours = OpeningHours.objects.filter(branch=branches[code], weekday=weekday).first()
                hours = hours or OpeningHours(branch=branches[code], weekday=weekday)
                hours.opens, hours.closes = opens, closes
                services.record_save(actor=actor, instance=hours)

        for order, (ccode, cname, cname_en, basic, items) in enumerate(CATALOG, start=1):
            category = ServiceCategory.objects.filter(code=ccode).first() or ServiceCategory(code=ccode)
            category.name, category.name_en, category.is_basic_care, category.sort_order = (
                cname,
                cname_en,
                basic,
                order * 10,
            )
            services.record_save(actor=actor, instance=category)
            for code, name, name_en, price, unit, minutes, per_tooth in items:
                item = ServiceItem.objects.filter(code=code).first() or ServiceItem(code=code)
                item.category, item.name, item.name_en = category, name, name_en
                item.price, item.unit, item.duration_minutes, item.per_tooth = (
                    Decimal(price),
                    unit,
                    minutes,
                    per_tooth,
                )
                services.record_save(actor=actor, instance=item)

        for username, full_name, role, title, codes in STAFF:
            user = User.objects.filter(username=username).first()
            if user is None:
                services.staff_create(
                    actor=actor,
                    username=username,
                    password=DEMO_PASSWORD,
                    full_name=full_name,
                    role=role,
                    branches=[branches[c] for c in codes],
                    job_title=title,
                )
            elif StaffProfile.objects.filter(user=user).exists():
                services.staff_update(
                    actor=actor,
                    profile=user.staff,
                    role=role,
                    branches=[branches[c] for c in codes],
                    job_title=title,
                )

        # A role HQ added in admin: a trainee at the front desk who looks things up but does
        # not register, book or take money (Django admin › 组 shows it as "后台新增").
        if not Group.objects.filter(name=TRAINEE_ROLE).exists():
            wanted = Q(pk__in=[])
            for key in TRAINEE_PERMISSIONS:
                app_label, codename = key.split(".")
                wanted |= Q(content_type__app_label=app_label, codename=codename)
            services.role_save(
                actor=actor, group=None, name=TRAINEE_ROLE, permissions=Permission.objects.filter(wanted)
            )

        # A branch's own calendar (clinic.workdays): 静安店 closed for a day of renovation.
        from django.utils import timezone

        from clinic.models import CalendarDay

        closure_day = dt.date(timezone.localdate().year + 1, 1, 12)
        if not CalendarDay.objects.filter(branch=branches["JA"], day=closure_day).exists():
            services.record_save(
                actor=actor,
                instance=CalendarDay(
                    branch=branches["JA"], day=closure_day, is_working_day=False, note="门店装修"
                ),
            )

        seed_notifications(branches=branches)

        # Demo people (members is a higher layer: imported here, when the command runs).
        from members.demo import seed_members

        seed_members(branches=branches)

        # Members in every tier, points about to expire, allowances partly used.
        from loyalty.demo import seed_loyalty

        seed_loyalty(branches=branches)

        # Stock: batches near expiry, one expired, one item low, service defaults, past use
        # (before the visits below are checked out, so that their checkouts take materials).
        from inventory.demo import seed_inventory

        seed_inventory(branches=branches)

        # Chairs, shifts, today's bookings in every state, tomorrow's with reminders pending.
        from appointments.demo import seed_appointments

        seed_appointments(branches=branches)

        # A month of consultations across channels and consultants, linked to today's bookings.
        from marketing.demo import seed_consultations

        seed_consultations(branches=branches)

        # Referral partners with terms, last month's rebates settled, a void reversed after it.
        from marketing.partner_demo import seed_partners

        seed_partners(branches=branches)

        # Campaigns: a member day held ten days ago with its results, a talk ahead with sign-ups.
        from marketing.campaign_demo import seed_campaigns

        seed_campaigns(branches=branches)

        # Segments (the 高频高消费 quadrant, SMS-consenting patients) and a broadcast queued to one.
        from marketing.segment_demo import seed_segments

        seed_segments(branches=branches)

        # Follow-up plans, dedicated reps, past visits whose follow-ups are due today/overdue.
        from followups.plan_demo import seed_followups

        seed_followups(branches=branches)

        # Recalls due this month, survey answers (one unhappy), a birthday today.
        from followups.recall_demo import seed_recalls

        seed_recalls(branches=branches)

        # The past member day's event survey: four answers (its feedback score), the rest open.
        from followups.event_survey_demo import seed_event_surveys

        seed_event_surveys(branches=branches)

        # Complaints in every state, one overdue and escalated, one medical dispute.
        from complaints.demo import seed_complaints

        seed_complaints(branches=branches)

        # Clinical records: charts and notes, a plan in review, an accepted plan in progress.
        from clinical.demo import seed_clinical

        seed_clinical(branches=branches, password=DEMO_PASSWORD)

        # The last three days' cash-up: top-ups, counts (one day short), 静安 signed off.
        from reports.cashup_demo import seed_cashup

        seed_cashup(branches=branches)

        # Reports: a year of history, the daily rollups over all of it, last month closed.
        from reports.demo import seed_reports

        seed_reports(branches=branches)

        # The member portal (H5): 张伟's phone 13812345678 reaches him and his son 张小宝, with
        # points about to expire, coupons, a booking in the coming days and the family event.
        from portal.demo import seed_portal

        seed_portal(branches=branches)

        # The member portal: services bookable online, the demo member's upcoming online
        # booking, their sign-up for the upcoming event and a survey to answer.
        from portal.booking_demo import seed_portal_booking

        seed_portal_booking(branches=branches)

        # Overdue tasks of both (plans and recalls) go up to the branch manager, as each morning:
        # after the commit, when the visits' listeners (on_commit, registered earlier, so run
        # first) have made their tasks.
        from followups.plans import tasks_escalate_overdue

        transaction.on_commit(tasks_escalate_overdue)

        if not quiet:
            self.stdout.write(
                self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):")
            )
            for username, full_name, role, _title, codes in STAFF:
                self.stdout.write(f"  {username:<14} {full_name:<6} {Role(role).label} ({', '.join(codes)})")
            self.stdout.write(
                "  Member portal /portal/: mobile 13812345678 (张伟 and his son), the SMS code in var/outbox/"
            )
