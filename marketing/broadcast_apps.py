"""What broadcasts plug in at start-up (called from ``MarketingConfig.ready``): the merge
field of a broadcast's frozen audience and the two menu entries (segments, broadcasts)."""

from __future__ import annotations


def recipient_before_move(source, target) -> dict:
    """One row per person per broadcast: where both records were in one broadcast's audience,
    the merged-away record's row goes (the outbox keeps what was really sent)."""
    from .models import BroadcastRecipient

    mine = BroadcastRecipient.objects.filter(member=target).values("broadcast_id")
    dropped, _ = BroadcastRecipient.objects.filter(member=source, broadcast_id__in=mine).delete()
    return {"broadcast_recipients_dropped": dropped} if dropped else {}


def ready() -> None:
    from django.utils.translation import gettext_lazy as _

    from clinic.navigation import NavItem, register
    from members.registry import register_merge_field

    from .models import BroadcastRecipient

    register_merge_field(BroadcastRecipient, "member", before_move=recipient_before_move)
    # In the "marketing" dropdown, after the partner screens.
    for url_name, label, icon, perm, order in (
        ("marketing:segment_list", _("Segments"), "bi-people", "marketing.view_segment", 85),
        ("marketing:broadcast_list", _("Broadcasts"), "bi-megaphone", "marketing.view_broadcast", 86),
    ):
        register(NavItem(url_name, label, icon, (perm,), order=order, group="marketing"))
