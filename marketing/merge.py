"""What a merge of two person records does to marketing's rows (members.registry)."""

from __future__ import annotations


def attribution_before_move(source, target) -> dict:
    """One first touch per person: of two, the earlier is the first, and it is kept."""
    from .models import Attribution

    theirs = Attribution.objects.filter(member=source).first()
    ours = Attribution.objects.filter(member=target).first()
    if theirs is None or ours is None:
        return {}
    dropped = ours if theirs.fixed_at < ours.fixed_at else theirs
    dropped.delete()
    return {"attribution_dropped": dropped.pk}
