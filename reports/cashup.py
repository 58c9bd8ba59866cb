"""The end-of-day cash-up (日结 / 交班, docs/reports.md): what a branch took on a day, per
payment method, per cashier and shift; voids and stored-value refunds; stored-value top-ups;
the cash each cashier counted against the cash the records expect; and the manager's
sign-off, after which the day's counts are locked.

Reads appointments' payments (append-only; a void adds a reversing row) and loyalty's
stored-value entries (top-ups and refunds carry their method); writes only its own tables
(``CashCount``, ``DaySignOff``), each write audited in its transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from clinic.errors import DomainError
from clinic.money import ZERO, MoneyError, format_cny, to_money
from clinic.services import audit_record

from . import kpis
from .cashup_models import CashCount, DaySignOff, Shift

VIEW_PERM = "reports.view_cashup"
COUNT_PERM = "reports.count_cash"
SIGN_PERM = "reports.sign_off_day"
# The most a drawer can hold, to catch a slip of the keyboard (an extra zero or three).
MAX_COUNT = Decimal("1000000.00")

# The six ways money is taken, in the order the cash-up sheet lists them. Codes are the
# appointments app's payment methods; stored-value top-ups and refunds use the first four.
METHODS: tuple[tuple[str, object], ...] = (
    ("cash", pgettext_lazy("cash-up", "Cash")),
    ("wechat_pay", pgettext_lazy("cash-up", "WeChat")),
    ("alipay", pgettext_lazy("cash-up", "Alipay")),
    ("bank_card", pgettext_lazy("cash-up", "Bank card")),
    ("insurance", pgettext_lazy("cash-up", "Medical insurance")),
    ("member_balance", pgettext_lazy("cash-up", "Stored value")),
)
METHOD_CODES = tuple(code for code, _label in METHODS)
CASH = "cash"


class CashupError(DomainError):
    pass


def shift_split() -> dt.time:
    """Local time at which the morning shift hands over to the evening one
    (``REPORTS_SHIFT_SPLIT``, "HH:MM", default 13:00)."""
    raw = getattr(settings, "REPORTS_SHIFT_SPLIT", "13:00")
    hours, minutes = (int(p) for p in str(raw).split(":", 1))
    return dt.time(hours, minutes)


def shift_of(moment: dt.datetime) -> str:
    return Shift.MORNING if timezone.localtime(moment).time() < shift_split() else Shift.EVENING


def _zeros() -> dict[str, Decimal]:
    return dict.fromkeys(METHOD_CODES, ZERO)


@dataclass
class CashierShift:
    """What one cashier took in one shift: net per method (payments, less voids, plus
    stored-value top-ups, less stored-value refunds), the expected cash, and their count."""

    cashier_id: int | None
    cashier: str
    shift: str
    by_method: dict[str, Decimal] = field(default_factory=_zeros)
    count: CashCount | None = None

    @property
    def shift_label(self) -> str:
        return str(Shift(self.shift).label)

    @property
    def expected_cash(self) -> Decimal:
        return self.by_method[CASH]

    @property
    def difference(self) -> Decimal | None:
        return None if self.count is None else self.count.counted - self.expected_cash

    @property
    def total(self) -> Decimal:
        return sum(self.by_method.values(), ZERO)

    @property
    def method_cells(self) -> list[Decimal]:
        return [self.by_method[c] for c in METHOD_CODES]


@dataclass
class Movement:
    """One line of the voids, refunds or top-ups lists."""

    at: dt.datetime
    person: str
    method: str
    amount: Decimal
    by: str
    detail: str = ""


@dataclass
class DaySummary:
    branch: object
    day: dt.date
    takings: dict[str, Decimal]  # payments taken (positive rows), per method
    voids: dict[str, Decimal]  # reversing rows of voided visits (negative), per method
    top_ups: dict[str, Decimal]  # stored value paid in (the bonus part is not money)
    refunds: dict[str, Decimal]  # stored value paid back (negative)
    rows: list[CashierShift]
    void_lines: list[Movement]
    refund_lines: list[Movement]
    top_up_lines: list[Movement]
    sign_off: DaySignOff | None

    @property
    def methods(self):
        return METHODS

    @property
    def net(self) -> dict[str, Decimal]:
        return {c: self.takings[c] + self.voids[c] + self.top_ups[c] + self.refunds[c] for c in METHOD_CODES}

    def cells(self, which: str) -> list[Decimal]:
        src = self.net if which == "net" else getattr(self, which)
        return [src[c] for c in METHOD_CODES]

    @property
    def lines(self) -> list[tuple[object, list[Decimal], Decimal]]:
        """The per-method table: one line per kind of movement and the net."""
        out = []
        for label, which in (
            (gettext_lazy("Payments taken"), "takings"),
            (gettext_lazy("Voids"), "voids"),
            (gettext_lazy("Stored-value top-ups"), "top_ups"),
            (gettext_lazy("Stored-value refunds"), "refunds"),
            (gettext_lazy("Net"), "net"),
        ):
            cells = self.cells(which)
            out.append((label, cells, sum(cells, ZERO), which))
        return out

    @property
    def expected_cash(self) -> Decimal:
        return self.net[CASH]

    @property
    def counted_cash(self) -> Decimal | None:
        counts = [r.count.counted for r in self.rows if r.count is not None]
        return sum(counts, ZERO) if counts else None

    @property
    def difference(self) -> Decimal | None:
        counted = self.counted_cash
        return None if counted is None else counted - self.expected_cash

    @property
    def uncounted(self) -> list[CashierShift]:
        """Cashier shifts that handled cash (or were counted as such) but have no count."""
        return [r for r in self.rows if r.count is None and r.cashier_id and r.expected_cash != 0]

    @property
    def signed_difference(self) -> dict | None:
        """The signed figures against today's, when a later change (a void) moved them."""
        if self.sign_off is None:
            return None
        signed = self.sign_off.totals.get("net", {})
        changed = {
            c: (Decimal(signed.get(c, "0")), self.net[c])
            for c in METHOD_CODES
            if Decimal(signed.get(c, "0")) != self.net[c]
        }
        return changed or None


def _user_name(user) -> str:
    if user is None:
        return _("System")
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    profile = getattr(user, "staff", None)
    return getattr(profile, "full_name", "") or full or user.get_username()


def day_summary(branch, day: dt.date) -> DaySummary:
    """Everything the cash-up sheet shows for ``branch`` on the local day ``day``."""
    from appointments.models import Payment
    from loyalty.stored_value_models import StoredValueEntry

    lo, hi = kpis.period_bounds(day, day + dt.timedelta(days=1))
    takings, voids, top_ups, refunds = _zeros(), _zeros(), _zeros(), _zeros()
    rows: dict[tuple, CashierShift] = {}
    users: dict = {}

    def row(user, moment) -> CashierShift:
        uid = user.pk if user else None
        key = (uid, shift_of(moment))
        if key not in rows:
            if uid not in users:
                users[uid] = _user_name(user)
            rows[key] = CashierShift(uid, users[uid], key[1])
        return rows[key]

    void_lines, refund_lines, top_up_lines = [], [], []
    payments = (
        Payment.objects.filter(visit__branch=branch, at__gte=lo, at__lt=hi)
        .select_related("by__staff", "visit__member")
        .order_by("at", "id")
    )
    for p in payments:
        if p.method not in takings:
            continue
        bucket = voids if p.reverses_id else takings
        bucket[p.method] += p.amount
        row(p.by, p.at).by_method[p.method] += p.amount
        if p.reverses_id:
            void_lines.append(
                Movement(
                    timezone.localtime(p.at),
                    str(p.visit.member.name),
                    p.get_method_display(),
                    p.amount,
                    _user_name(p.by),
                    p.visit.void_reason,
                )
            )
    entries = (
        StoredValueEntry.objects.filter(
            branch=branch, created_at__gte=lo, created_at__lt=hi, kind__in=("top_up", "refund")
        )
        .exclude(paid=0)
        .select_related("actor__staff", "account__member")
        .order_by("created_at", "id")
    )
    for e in entries:
        method = e.method if e.method in takings else None
        if method is None:
            continue
        bucket, lines = (top_ups, top_up_lines) if e.kind == "top_up" else (refunds, refund_lines)
        bucket[method] += e.paid
        row(e.actor, e.created_at).by_method[method] += e.paid
        lines.append(
            Movement(
                timezone.localtime(e.created_at),
                str(e.account.member.name),
                e.get_method_display(),
                e.paid,
                _user_name(e.actor),
                e.reason or e.reference,
            )
        )
    for count in CashCount.objects.filter(branch=branch, day=day).select_related("cashier__staff"):
        key = (count.cashier_id, count.shift)
        if key not in rows:
            rows[key] = CashierShift(count.cashier_id, _user_name(count.cashier), count.shift)
        rows[key].count = count
    sign_off = DaySignOff.objects.filter(branch=branch, day=day).select_related("signed_by__staff").first()
    ordered = sorted(rows.values(), key=lambda r: (r.shift != Shift.MORNING, r.cashier, r.cashier_id or 0))
    return DaySummary(
        branch,
        day,
        takings,
        voids,
        top_ups,
        refunds,
        ordered,
        void_lines,
        refund_lines,
        top_up_lines,
        sign_off,
    )


def expected_cash(branch, day: dt.date, cashier, shift: str) -> Decimal:
    for r in day_summary(branch, day).rows:
        if r.cashier_id == cashier.pk and r.shift == shift:
            return r.expected_cash
    return ZERO


def parse_amount(raw) -> Decimal:
    """A counted amount typed by a cashier: digits with at most two decimals, not negative."""
    text = str(raw if raw is not None else "").strip().replace(",", "").replace("¥", "").replace("￥", "")
    if not text:
        raise CashupError(_("Enter the cash you counted."), field="counted")
    try:
        if not text.replace(".", "", 1).lstrip("-").isdigit() or not text.isascii():
            raise MoneyError(text)
        amount = to_money(text)
    except MoneyError:
        raise CashupError(
            _("Enter the counted cash as a number of yuan, e.g. 1280.50."), field="counted"
        ) from None
    if amount < 0:
        raise CashupError(_("The counted cash cannot be negative."), field="counted")
    if amount >= MAX_COUNT:
        raise CashupError(_("That is more cash than a drawer holds; check the figure."), field="counted")
    if to_money(text) != Decimal(text):
        raise CashupError(_("Cash is counted to the fen: at most two decimals."), field="counted")
    return amount


def _check_day(day: dt.date) -> None:
    if day > timezone.localdate():
        raise CashupError(_("That day has not happened yet."), field="day", code="future")


def _lock_branch(branch):
    # Counting and signing off one branch's day take the branch row's lock, so a count
    # cannot land between the sign-off's check of the counts and its commit.
    from clinic.models import Branch

    return Branch.objects.select_for_update().get(pk=branch.pk)


def cash_count_record(*, actor, branch, day: dt.date, shift: str, counted, note: str = "") -> CashCount:
    """Record (or, before the sign-off, correct) the actor's own count of their shift's cash.
    Refused for a future day, a signed-off day, a negative or non-numeric amount. Audited."""
    if not actor.has_perm(COUNT_PERM):
        raise CashupError(_("You may not count cash."), code="forbidden")
    if shift not in Shift.values:
        raise CashupError(_("Choose the shift you are counting."), field="shift")
    _check_day(day)
    amount = parse_amount(counted)
    note = (note or "").strip()[:200]
    with transaction.atomic():
        _lock_branch(branch)
        if DaySignOff.objects.filter(branch=branch, day=day).exists():
            raise CashupError(_("This day has been signed off; its counts are locked."), code="locked")
        expected = expected_cash(branch, day, actor, shift)
        existing = CashCount.objects.filter(branch=branch, day=day, shift=shift, cashier=actor).first()
        now = timezone.now()
        if existing is None:
            count = CashCount.objects.create(
                branch=branch,
                day=day,
                shift=shift,
                cashier=actor,
                counted=amount,
                expected=expected,
                note=note,
                counted_at=now,
            )
            action, changes = (
                "reports.cash_count.recorded",
                {
                    "day": day,
                    "shift": shift,
                    "counted": amount,
                    "expected": expected,
                },
            )
        else:
            changes = {
                "day": day,
                "shift": shift,
                "counted": [existing.counted, amount],
                "expected": [existing.expected, expected],
            }
            existing.counted, existing.expected, existing.note, existing.counted_at = (
                amount,
                expected,
                note,
                now,
            )
            existing.save(update_fields=["counted", "expected", "note", "counted_at"])
            count, action = existing, "reports.cash_count.recounted"
        audit_record(actor=actor, action=action, target=count, changes=changes, branch=branch)
    return count


def _totals(summary: DaySummary) -> dict:
    return {
        "net": {c: str(v) for c, v in summary.net.items()},
        "takings": {c: str(v) for c, v in summary.takings.items()},
        "voids": {c: str(v) for c, v in summary.voids.items()},
        "top_ups": {c: str(v) for c, v in summary.top_ups.items()},
        "refunds": {c: str(v) for c, v in summary.refunds.items()},
        "expected_cash": str(summary.expected_cash),
        "counted_cash": None if summary.counted_cash is None else str(summary.counted_cash),
        "counts": [
            [r.cashier_id, r.shift, str(r.expected_cash), None if r.count is None else str(r.count.counted)]
            for r in summary.rows
        ],
    }


def day_sign_off(*, actor, branch, day: dt.date, note: str = "") -> DaySignOff:
    """The manager signs the branch's day off: refused for a future day, a day already signed,
    or while a cashier who handled cash has not counted; keeps the figures as signed and locks
    the counts. Audited."""
    if not actor.has_perm(SIGN_PERM):
        raise CashupError(_("You may not sign off a day."), code="forbidden")
    _check_day(day)
    note = (note or "").strip()[:200]
    try:
        with transaction.atomic():
            _lock_branch(branch)
            done = (
                DaySignOff.objects.filter(branch=branch, day=day).select_related("signed_by__staff").first()
            )
            if done is not None:
                raise CashupError(
                    _("This day was already signed off by %(name)s at %(time)s.")
                    % {
                        "name": _user_name(done.signed_by),
                        "time": f"{timezone.localtime(done.signed_at):%Y-%m-%d %H:%M}",
                    },
                    code="signed",
                )
            summary = day_summary(branch, day)
            missing = summary.uncounted
            if missing:
                raise CashupError(
                    _(
                        "Not yet counted: %(who)s. Each cashier counts their cash before the day is signed off."
                    )
                    % {"who": "、".join(f"{r.cashier}（{r.shift_label}）" for r in missing)},
                    code="uncounted",
                )
            sign = DaySignOff.objects.create(
                branch=branch,
                day=day,
                signed_by=actor,
                signed_at=timezone.now(),
                note=note,
                totals=_totals(summary),
            )
            audit_record(
                actor=actor,
                action="reports.day.signed_off",
                target=sign,
                branch=branch,
                changes={
                    "day": day,
                    "expected_cash": summary.expected_cash,
                    "counted_cash": summary.counted_cash,
                    "difference": summary.difference,
                    "note": note or None,
                },
            )
    except IntegrityError:
        # A second sign-off racing this one past the lock cannot happen; the constraint is the
        # last word all the same.
        raise CashupError(_("This day has already been signed off."), code="signed") from None
    return sign


__all__ = [
    "METHODS",
    "CashupError",
    "DaySummary",
    "cash_count_record",
    "day_sign_off",
    "day_summary",
    "format_cny",
]
