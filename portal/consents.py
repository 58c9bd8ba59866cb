"""Consents per channel and purpose, as the member sees them.

Marketing (offers, events) on SMS, WeChat and e-mail is a ``members.Consent`` per channel
(granted or withdrawn through the members services: audited, at once). Care and service
messages (reminders, care instructions, receipts) need no consent; a member may refuse them on
WeChat and e-mail (a ``notifications.OptOut`` of scope "all" for that address, which the sender
checks at send time). Care by SMS stays on: it carries the log-in codes and appointment
reminders, and the desk can always call. Refusing care on a channel also ends marketing there.
A child under 14 gets no marketing consent from the portal (PIPL art. 31 needs the guardian's
recorded consent first, taken at the desk).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from clinic.notifications.models import Channel, OptOut, OptOutScope
from clinic.notifications.services import normalize_recipient, optout_remove, optout_set
from members.models import Consent, ConsentChannel, ConsentKind, Member

from .errors import PortalError

MARKETING_KIND = {
    Channel.SMS: ConsentKind.MARKETING_SMS,
    Channel.WECHAT: ConsentKind.MARKETING_WECHAT,
    Channel.EMAIL: ConsentKind.MARKETING_EMAIL,
}
CHANNELS = (
    (Channel.SMS, gettext_lazy("SMS")),
    (Channel.WECHAT, gettext_lazy("WeChat")),
    (Channel.EMAIL, gettext_lazy("E-mail")),
)


@dataclass
class ConsentRow:
    key: str  # "care:wechat", "marketing:sms"
    channel: str
    channel_label: str
    purpose: str  # care | marketing
    on: bool
    fixed: bool = False  # shown, not changeable here
    note: str = ""

    @property
    def slug(self) -> str:
        return self.key.replace(":", "-")


def _address(member: Member, channel: str) -> str:
    raw = {Channel.SMS: member.phone, Channel.WECHAT: member.wechat_id, Channel.EMAIL: member.email}[channel]
    if not raw:
        return ""
    try:
        return normalize_recipient(channel, raw)
    except Exception:  # an address that does not normalise is no address
        return ""


def _opt_outs(member: Member) -> dict[str, str]:
    """channel → opt-out scope for the person's addresses."""
    found = {}
    for channel, _label in CHANNELS:
        address = _address(member, channel)
        if address:
            row = OptOut.objects.filter(channel=channel, recipient=address).first()
            if row is not None:
                found[channel] = row.scope
    return found


def _active_consents(member: Member) -> dict[str, Consent]:
    return {c.kind: c for c in Consent.objects.filter(member=member, withdrawn_at__isnull=True)}


def consent_rows(member: Member) -> list[ConsentRow]:
    opt_outs = _opt_outs(member)
    active = _active_consents(member)
    rows = []
    for channel, label in CHANNELS:
        has_address = bool(_address(member, channel))
        care_off = opt_outs.get(channel) == OptOutScope.ALL
        if channel == Channel.SMS:
            rows.append(
                ConsentRow(
                    f"care:{channel}",
                    channel,
                    str(label),
                    "care",
                    True,
                    fixed=True,
                    note=_("Always on: log-in codes and appointment reminders."),
                )
            )
        else:
            rows.append(
                ConsentRow(
                    f"care:{channel}",
                    channel,
                    str(label),
                    "care",
                    has_address and not care_off,
                    fixed=not has_address,
                    note="" if has_address else _("Add the address in Contact details first."),
                )
            )
        marketing_on = (
            MARKETING_KIND[channel] in active
            and not member.marketing_opt_out
            and opt_outs.get(channel) is None
        )
        fixed = not has_address or member.needs_guardian_consent
        note = ""
        if member.needs_guardian_consent:
            note = _("Children under 14: ask at the desk (a guardian's consent is needed).")
        elif not has_address:
            note = _("Add the address in Contact details first.")
        rows.append(
            ConsentRow(f"marketing:{channel}", channel, str(label), "marketing", marketing_on, fixed, note)
        )
    return rows


@transaction.atomic
def consents_apply(*, actor, member: Member, wanted: set[str]) -> int:
    """Make the member's consents what the form says (``wanted``: the keys ticked). Each
    change goes through its service (its own audit row) in one transaction; returns how many
    changed. Rows shown as fixed are left as they are, whatever was posted."""
    from members.services import consent_grant, consent_withdraw, member_opt_out_set

    rows = {r.key: r for r in consent_rows(member)}
    unknown = wanted - set(rows)
    if unknown:
        raise PortalError(_("Unknown choice."), code="invalid")
    changed = 0
    # Care first: refusing care on a channel ends marketing there too.
    for channel, _label in CHANNELS:
        row = rows[f"care:{channel}"]
        if row.fixed:
            continue
        want = row.key in wanted
        if want == row.on:
            continue
        address = _address(member, channel)
        if not want:
            optout_set(
                actor=actor,
                channel=channel,
                recipient=address,
                scope=OptOutScope.ALL,
                reason=_("Member portal"),
            )
            wanted.discard(f"marketing:{channel}")
        else:
            optout_remove(actor=actor, channel=channel, recipient=address)
        changed += 1
    active = _active_consents(member)
    for channel, _label in CHANNELS:
        row = rows[f"marketing:{channel}"]
        if row.fixed:
            continue
        want = row.key in wanted
        if want == row.on:
            continue
        kind = MARKETING_KIND[channel]
        if want:
            if kind not in active:
                consent_grant(
                    actor=actor, member=member, kind=kind, channel=ConsentChannel.WEB, note=_("Member portal")
                )
            if member.marketing_opt_out:
                member = member_opt_out_set(actor=actor, member=member, opt_out=False)
            address = _address(member, channel)
            scope = (
                OptOut.objects.filter(channel=channel, recipient=address)
                .values_list("scope", flat=True)
                .first()
            )
            if scope == OptOutScope.MARKETING:
                optout_remove(actor=actor, channel=channel, recipient=address)
        else:
            consent = active.get(kind)
            if consent is not None:
                consent_withdraw(actor=actor, consent=consent, note=_("Member portal"))
        changed += 1
    return changed
