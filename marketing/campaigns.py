"""Writes of campaigns and events (活动, issue 16): create, sign up, cancel (promoting the
waiting list in order), check in by card/QR or by person, reward attendance once,
no-show follow-up tasks and a verifiable lucky draw. Each service has its own transaction and audit row."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.money import to_money
from clinic.selectors import user_branch_ids
from clinic.services import audit_record
from members.actors import is_member_actor
from members.models import Member

from .errors import MarketingError
from .models import Campaign, CampaignDraw, CampaignKind, CampaignSignup, SignupChannel, SignupStatus

CAMPAIGN_FIELDS = (
    "name",
    "kind",
    "branch",
    "starts_at",
    "ends_at",
    "capacity",
    "channels",
    "budget",
    "reward_points",
    "reward_coupon",
    "target_tag",
    "notes",
)
_FK = ("branch", "reward_coupon", "target_tag")


def _check_branch(actor, branch_id: int) -> None:
    ids = user_branch_ids(actor)
    if ids is not None and branch_id not in ids:
        raise MarketingError(_("You may only run campaigns of your own branches."), field="branch")


def _value(campaign: Campaign, name: str):
    value = getattr(campaign, f"{name}_id") if name in _FK else getattr(campaign, name)
    return str(value) if isinstance(value, dt.datetime) or name == "budget" else value


@transaction.atomic
def campaign_create(*, actor, branch, name: str, kind: str, starts_at, ends_at, **fields) -> Campaign:
    """A new campaign of one of the actor's branches. Audited."""
    _check_branch(actor, branch.pk)
    name = (name or "").strip()
    if not name:
        raise MarketingError(_("A campaign needs a name."), field="name")
    if kind not in CampaignKind.values:
        raise MarketingError(_("Choose a kind of campaign."), field="kind")
    if not starts_at or not ends_at or ends_at <= starts_at:
        raise MarketingError(_("A campaign must end after it starts."), field="ends_at")
    campaign = Campaign(
        branch=branch,
        name=name,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    for key, value in fields.items():
        if key not in CAMPAIGN_FIELDS:
            raise TypeError(key)
        setattr(campaign, key, value)
    campaign.budget = to_money(campaign.budget or 0)
    if campaign.budget < 0:
        raise MarketingError(_("The budget cannot be negative."), field="budget")
    campaign.save()
    audit_record(
        actor=actor,
        action="marketing.campaign.created",
        target=campaign,
        changes={f: _value(campaign, f) for f in CAMPAIGN_FIELDS},
    )
    return campaign


@transaction.atomic
def campaign_update(*, actor, campaign: Campaign, **fields) -> Campaign:
    """Change a campaign (not its branch). Places cannot drop below the people already
    holding one; more places go to the waiting list in order. Audited with what changed."""
    campaign = _lock_campaign(campaign)
    _check_branch(actor, campaign.branch_id)
    before = {f: _value(campaign, f) for f in CAMPAIGN_FIELDS}
    for key, value in fields.items():
        if key not in CAMPAIGN_FIELDS or key == "branch":
            raise TypeError(key)
        setattr(campaign, key, value)
    campaign.name = (campaign.name or "").strip()
    if not campaign.name:
        raise MarketingError(_("A campaign needs a name."), field="name")
    if campaign.kind not in CampaignKind.values:
        raise MarketingError(_("Choose a kind of campaign."), field="kind")
    if not campaign.starts_at or not campaign.ends_at or campaign.ends_at <= campaign.starts_at:
        raise MarketingError(_("A campaign must end after it starts."), field="ends_at")
    campaign.budget = to_money(campaign.budget or 0)
    if campaign.budget < 0:
        raise MarketingError(_("The budget cannot be negative."), field="budget")
    taken = _taken(campaign)
    if campaign.capacity and campaign.capacity < taken:
        raise MarketingError(
            _("%(n)d people already hold a place: the campaign needs at least that many places.")
            % {"n": taken},
            field="capacity",
        )
    campaign.save()
    after = {f: _value(campaign, f) for f in CAMPAIGN_FIELDS}
    changes = {f: [before[f], after[f]] for f in CAMPAIGN_FIELDS if before[f] != after[f]}
    if changes:
        audit_record(actor=actor, action="marketing.campaign.changed", target=campaign, changes=changes)
    _promote(actor, campaign)
    return campaign


def _lock_campaign(campaign: Campaign) -> Campaign:
    """The campaign row locked: sign-ups, cancellations and promotions of one campaign run one
    at a time, so the place count and the waiting-list order hold under concurrency."""
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _taken(campaign: Campaign) -> int:
    return campaign.signups.filter(status__in=(SignupStatus.CONFIRMED, SignupStatus.ATTENDED)).count()


def _has_place(campaign: Campaign) -> bool:
    return not campaign.capacity or _taken(campaign) < campaign.capacity


@transaction.atomic
def signup_create(
    *, actor, campaign: Campaign, member: Member, channel: str = SignupChannel.STAFF
) -> CampaignSignup:
    """Sign ``member`` up: a place while there is one, else the end of the waiting list.
    Signing up again after a cancellation reopens the same row (at the end of the line).
    Staff sign up people of their own branches' campaigns; a member (``MemberActor``, the
    portal) signs up only themself, through ``member_signup_create``."""
    campaign = _lock_campaign(campaign)
    if is_member_actor(actor):
        if actor.member.pk != member.pk:
            raise MarketingError(_("You may only sign up yourself or your family."), code="forbidden")
        channel = SignupChannel.H5
    else:
        _check_branch(actor, campaign.branch_id)
    if campaign.ends_at <= timezone.now():
        raise MarketingError(_("This campaign is over."), field="campaign")
    signup = CampaignSignup.objects.filter(campaign=campaign, member=member).first()
    if signup is not None and signup.status != SignupStatus.CANCELLED:
        if is_member_actor(actor):
            raise MarketingError(_("You are already signed up."), field="campaign")
        raise MarketingError(_("This person is already signed up."), field="member")
    status = SignupStatus.CONFIRMED if _has_place(campaign) else SignupStatus.WAITING
    by = actor if getattr(actor, "pk", None) else None
    if signup is None:
        try:
            with transaction.atomic():
                signup = CampaignSignup.objects.create(
                    campaign=campaign, member=member, status=status, signed_up_by=by, channel=channel
                )
        except IntegrityError as exc:  # pragma: no cover - the campaign lock serialises
            raise MarketingError(_("This person is already signed up."), field="member") from exc
    else:
        signup.status, signup.signed_up_at, signup.signed_up_by = status, timezone.now(), by
        signup.channel = channel
        signup.save(update_fields=["status", "signed_up_at", "signed_up_by", "channel"])
    audit_record(
        actor=actor,
        action="marketing.campaign.signed_up",
        target=campaign,
        changes={"member": member.pk, "status": status, "channel": channel},
    )
    return signup


def member_campaigns(member: Member, *, now: dt.datetime | None = None):
    """Campaigns a member may sign up for in the portal: not over yet, of any branch, aimed
    at everybody or at a tag the person carries; soonest first."""
    from django.db.models import Count, Q

    now = now or timezone.now()
    tags = list(member.tags.values_list("pk", flat=True))
    held = Q(signups__status__in=(SignupStatus.CONFIRMED, SignupStatus.ATTENDED))
    return (
        Campaign.objects.filter(ends_at__gt=now)
        .filter(Q(target_tag__isnull=True) | Q(target_tag__in=tags))
        .annotate(taken=Count("signups", filter=held))
        .select_related("branch")
        .order_by("starts_at", "id")
    )


def member_signup_create(*, actor, campaign: Campaign, member: Member) -> CampaignSignup:
    """The member signs up in the portal: the same rules, capacity and waiting list as staff
    sign-up, channel H5. A campaign aimed at a tag the person lacks is not open to them."""
    if not member_campaigns(member).filter(pk=campaign.pk).exists():
        raise MarketingError(_("This event is not open for sign-up."), field="campaign")
    return signup_create(actor=actor, campaign=campaign, member=member, channel=SignupChannel.H5)


def member_signup_cancel(*, actor, signup: CampaignSignup) -> list[CampaignSignup]:
    """The member cancels their own sign-up before the event starts; the waiting list moves up."""
    if not is_member_actor(actor) or actor.member.pk != signup.member_id:
        raise MarketingError(_("You may only cancel your own sign-up."), code="forbidden")
    if signup.campaign.starts_at <= timezone.now():
        raise MarketingError(
            _("The event has started; it can no longer be cancelled online."), code="too_late"
        )
    return signup_cancel(actor=actor, signup=signup)


TICKET_PREFIX = "E"


def ticket_code(signup: CampaignSignup) -> str:
    """The code on the member's QR ticket: ``E<sign-up id>-<check>``, the check an HMAC of
    the id under the site's secret, so a ticket cannot be guessed from another's. Staff scan
    it at the door like a card (``checkin`` accepts both)."""
    return f"{TICKET_PREFIX}{signup.pk}-{_ticket_check(signup.pk)}"


def _ticket_check(pk: int) -> str:
    import hmac

    from django.conf import settings

    digest = hmac.new(settings.SECRET_KEY.encode(), f"ticket:{pk}".encode(), hashlib.sha256).hexdigest()
    return digest[:8].upper()


def signup_by_ticket(code: str) -> CampaignSignup | None:
    code = (code or "").strip().upper()
    if not code.startswith(TICKET_PREFIX) or "-" not in code:
        return None
    pk, check = code[1:].split("-", 1)
    if not pk.isdigit() or not secrets.compare_digest(check, _ticket_check(int(pk))):
        return None
    return CampaignSignup.objects.select_related("member").filter(pk=int(pk)).first()


def _promote(actor, campaign: Campaign) -> list[CampaignSignup]:
    promoted = []
    while _has_place(campaign):
        first = (
            campaign.signups.select_for_update()
            .filter(status=SignupStatus.WAITING)
            .order_by("signed_up_at", "id")
            .first()
        )
        if first is None:
            break
        first.status = SignupStatus.CONFIRMED
        first.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="marketing.campaign.promoted",
            target=campaign,
            changes={"member": first.member_id},
        )
        promoted.append(first)
    return promoted


@transaction.atomic
def signup_cancel(*, actor, signup: CampaignSignup) -> list[CampaignSignup]:
    """Cancel a sign-up; the freed place goes to the first on the waiting list. Returns the
    sign-ups promoted."""
    campaign = _lock_campaign(signup.campaign)
    if not is_member_actor(actor):
        _check_branch(actor, campaign.branch_id)
    signup = CampaignSignup.objects.select_for_update().get(pk=signup.pk)
    if signup.status == SignupStatus.ATTENDED:
        raise MarketingError(_("This person has already checked in."), field="signup")
    if signup.status == SignupStatus.CANCELLED:
        return []
    old = signup.status
    signup.status = SignupStatus.CANCELLED
    signup.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="marketing.campaign.cancelled",
        target=campaign,
        changes={"member": signup.member_id, "status": [old, SignupStatus.CANCELLED]},
    )
    return _promote(actor, campaign)


def member_by_code(code: str) -> Member | None:
    """The person a scanned code names: the QR on a member's card carries the card number
    (members.Member.card_no, the same number loyalty prints), upper-cased like enrolment."""
    code = (code or "").strip().upper()
    if not code:
        return None
    return Member.objects.filter(card_no=code).first()


@transaction.atomic
def checkin(*, actor, campaign: Campaign, member: Member | None = None, code: str = "") -> CampaignSignup:
    """Check a person in at the door, found by the scanned card/QR ``code`` or chosen by
    search (``member``). Someone not signed up (a walk-in) is signed up and checked in even
    past capacity: they are in the room. Checking in twice changes nothing."""
    campaign = _lock_campaign(campaign)
    _check_branch(actor, campaign.branch_id)
    if member is None:
        member = member_by_code(code)
        if member is None:
            ticket = signup_by_ticket(code)
            if ticket is not None and ticket.campaign_id != campaign.pk:
                raise MarketingError(_("This ticket is for another event."), field="code")
            member = ticket.member if ticket is not None else None
        if member is None:
            raise MarketingError(_("No person carries this card or code."), field="code")
    signup = CampaignSignup.objects.select_for_update().filter(campaign=campaign, member=member).first()
    if signup is not None and signup.status == SignupStatus.ATTENDED:
        return signup
    now = timezone.now()
    by = actor if getattr(actor, "pk", None) else None
    if signup is None:
        signup = CampaignSignup.objects.create(
            campaign=campaign, member=member, status=SignupStatus.ATTENDED, signed_up_by=by, checked_in_at=now
        )
    else:
        signup.status, signup.checked_in_at = SignupStatus.ATTENDED, now
        signup.save(update_fields=["status", "checked_in_at"])
    audit_record(
        actor=actor, action="marketing.campaign.checked_in", target=campaign, changes={"member": member.pk}
    )
    return signup


def reward_key(signup: CampaignSignup) -> str:
    return f"campaign:{signup.campaign_id}:member:{signup.member_id}"


@transaction.atomic
def attendance_reward(*, actor, signup: CampaignSignup) -> CampaignSignup:
    """Give a checked-in person the campaign's points (members only: people without a points
    account get the coupon alone) and coupon, once per person per campaign: the loyalty ledger and the coupon issue are idempotent on ``reward_key``, and
    ``rewarded_at`` marks it done."""
    from loyalty.coupons import coupon_issue
    from loyalty.services.ledger import open_account, points_earn

    signup = CampaignSignup.objects.select_for_update().select_related("campaign").get(pk=signup.pk)
    campaign = signup.campaign
    _check_branch(actor, campaign.branch_id)
    if signup.status != SignupStatus.ATTENDED:
        raise MarketingError(_("Only people who checked in are rewarded."), field="signup")
    if signup.rewarded_at is not None:
        return signup
    key = reward_key(signup)
    reason = _("Attended %(campaign)s") % {"campaign": campaign.name}
    changes: dict = {"member": signup.member_id}
    if campaign.reward_points and open_account(signup.member) is None:
        changes["points_skipped"] = _("not a member: no points account")
    elif campaign.reward_points:
        points_earn(
            actor=actor,
            member=signup.member,
            points=campaign.reward_points,
            idempotency_key=key,
            source_key=key,
            reason=reason,
        )
        changes["points"] = campaign.reward_points
    if campaign.reward_coupon_id:
        coupon = coupon_issue(
            actor=actor,
            template=campaign.reward_coupon,
            member=signup.member,
            reason=reason,
            issue_key=key,
            system=True,
        )
        changes["coupon"] = coupon.code
    signup.rewarded_at = timezone.now()
    signup.save(update_fields=["rewarded_at"])
    audit_record(actor=actor, action="marketing.campaign.rewarded", target=campaign, changes=changes)
    return signup


def no_show_followups(*, actor, campaign: Campaign) -> int:
    """After the event: a follow-up task for each confirmed person who did not come, made
    once (followups.services.task_create is idempotent on the source key). Returns how many
    tasks were new."""
    from followups.models import TaskKind
    from followups.services import task_create

    if campaign.ends_at > timezone.now():
        raise MarketingError(_("The campaign has not ended yet."), field="campaign")
    made = 0
    due = timezone.localdate()
    for signup in campaign.signups.filter(status=SignupStatus.CONFIRMED).select_related("member"):
        _task, created = task_create(
            actor=actor,
            member=signup.member,
            kind=TaskKind.CARE,
            title=_("Missed %(campaign)s: call to follow up") % {"campaign": campaign.name},
            due_on=due,
            source_key=f"campaign-noshow:{campaign.pk}:{signup.member_id}",
        )
        made += created
    return made


def draw_winners(seed: str, candidates: list[int], count: int) -> list[int]:
    """The winners a draw's seed picks among ``candidates`` (member ids): each candidate is
    ranked by SHA-256 of ``"<seed>:<id>"`` and the first ``count`` win. Pure: the same seed
    and list always give the same winners, so a recorded draw can be checked by anyone."""
    ranked = sorted(set(candidates), key=lambda pk: (hashlib.sha256(f"{seed}:{pk}".encode()).hexdigest(), pk))
    return ranked[:count]


@transaction.atomic
def draw_create(
    *, actor, campaign: Campaign, prize: str, count: int, seed: str | None = None
) -> CampaignDraw:
    """Draw ``count`` winners of ``prize`` among the people checked in who have not won at
    this campaign yet. The seed (random unless given), the candidates and the winners are
    recorded and audited."""
    campaign = _lock_campaign(campaign)
    _check_branch(actor, campaign.branch_id)
    prize = (prize or "").strip()
    if not prize:
        raise MarketingError(_("Name the prize."), field="prize")
    if count < 1:
        raise MarketingError(_("Draw at least one winner."), field="count")
    won = {pk for draw in campaign.draws.all() for pk in draw.winners}
    candidates = sorted(
        pk
        for pk in campaign.signups.filter(status=SignupStatus.ATTENDED).values_list("member_id", flat=True)
        if pk not in won
    )
    if not candidates:
        raise MarketingError(_("Nobody checked in is left to draw."), field="count")
    seed = seed or secrets.token_hex(16)
    draw = CampaignDraw.objects.create(
        campaign=campaign,
        prize=prize[:100],
        seed=seed,
        candidates=candidates,
        winners=draw_winners(seed, candidates, count),
        drawn_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="marketing.campaign.drawn",
        target=campaign,
        changes={"prize": draw.prize, "seed": seed, "candidates": candidates, "winners": draw.winners},
    )
    return draw


def draw_verify(draw: CampaignDraw) -> bool:
    """Whether the recorded winners are the ones the recorded seed and list give."""
    return draw_winners(draw.seed, draw.candidates, len(draw.winners)) == draw.winners


# --- reminders ------------------------------------------------------------------------------

# (template key, how long before the start, dedupe suffix)
REMINDERS = (
    ("marketing.campaign_reminder_day", dt.timedelta(days=1), "day"),
    ("marketing.campaign_reminder_soon", dt.timedelta(hours=2), "2h"),
)


def campaign_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Queue the reminders that are due: a day before and 2 hours before the start, to each
    confirmed person (not the waiting list, not the cancelled). Run by the beat every few
    minutes; each reminder is queued once (outbox dedupe key), so a re-run or an overlap is
    harmless, and someone promoted late still gets the reminders not yet past. Returns how
    many messages were newly queued."""
    from clinic.notifications.models import Purpose
    from members.errors import MemberError
    from members.notify import member_notify

    now = now or timezone.now()
    queued = 0
    for template_key, before, suffix in REMINDERS:
        campaigns = Campaign.objects.filter(starts_at__gt=now, starts_at__lte=now + before).select_related(
            "branch"
        )
        for campaign in campaigns:
            signups = campaign.signups.filter(status=SignupStatus.CONFIRMED).select_related("member")
            for signup in signups:
                params = {
                    "name": signup.member.name,
                    "campaign": campaign.name,
                    "start": timezone.localtime(campaign.starts_at).strftime("%Y-%m-%d %H:%M"),
                    "branch": campaign.branch.name,
                    "address": campaign.branch.address,
                }
                try:
                    with transaction.atomic():
                        row = member_notify(
                            member=signup.member,
                            template_key=template_key,
                            params=params,
                            purpose=Purpose.SERVICE,
                            dedupe_key=f"campaign:{campaign.pk}:{signup.member_id}:{suffix}",
                        )
                except MemberError:  # closed record, no phone, opted out: nothing to send
                    continue
                queued += bool(getattr(row, "was_created", True))
    return queued
