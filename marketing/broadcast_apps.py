"""What broadcasts plug in at start-up (called from ``MarketingConfig.ready``): the merge
field of a broadcast's frozen audience."""

from __future__ import annotations


def recipient_before_move(source, target) -> dict:
    """One row per person per broadcast: where both records were in one broadcast's audience,
    the merged-away record's row goes (the outbox keeps what was really sent)."""
    from .models import BroadcastRecipient

    mine = BroadcastRecipient.objects.filter(member=target).values("broadcast_id")
    dropped, _ = BroadcastRecipient.objects.filter(member=source, broadcast_id__in=mine).delete()
    return {"broadcast_recipients_dropped": dropped} if dropped else {}


def ready() -> None:
    from members.registry import register_merge_field

    from .models import BroadcastRecipient

    register_merge_field(BroadcastRecipient, "member", before_move=recipient_before_move)
