"""Demo segments and a broadcast, called by ``seed_demo`` after the campaigns: two saved
segments at 静安 (the 高频高消费 quadrant; patients and members holding an SMS consent) and an
SMS broadcast to the second, its audience fixed (the waterfall shows) and queued in the
outbox. Idempotent: found by name."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from clinic.models import Branch

from . import broadcast_services, segments
from .broadcast_models import Broadcast, BroadcastStatus
from .segment_models import Segment

User = get_user_model()
HIGH = "[demo] 高频高消费"
CONSENTING = "[demo] 有短信营销同意的患者和会员"
BROADCAST = "[demo] 冬季洁牙八折"


@transaction.atomic
def seed_segments(*, branches: dict[str, Branch]) -> int:
    """Returns the number of segments created."""
    marketer = User.objects.filter(username="marketing").first()
    manager = User.objects.filter(username="manager").first()
    branch = branches.get("JA")
    if marketer is None or branch is None:
        return 0
    made = 0
    wanted = (
        (HIGH, {"quadrants": ["hh"]}, "近 12 个月到店次数和消费都在门店中位数以上"),
        (CONSENTING, {"stages": ["patient", "member"], "consents": ["sms"]}, "可接收短信营销的人"),
    )
    for name, filters, description in wanted:
        if not Segment.objects.filter(name=name, branch=branch).exists():
            segments.segment_create(
                actor=marketer, name=name, branch=branch, filters=filters, description=description
            )
            made += 1
    if not Broadcast.objects.filter(name=BROADCAST, branch=branch).exists():
        broadcast = broadcast_services.broadcast_create(
            actor=marketer,
            segment=Segment.objects.get(name=CONSENTING, branch=branch),
            channel="sms",
            name=BROADCAST,
            body="{name}您好，{branch}冬季洁牙八折，本月有效，欢迎预约。回T退订",
        )
        if broadcast.status == BroadcastStatus.AWAITING_APPROVAL and manager is not None:
            broadcast = broadcast_services.broadcast_approve(actor=manager, broadcast=broadcast)
        if broadcast.status == BroadcastStatus.READY:
            broadcast_services.broadcast_send(actor=marketer, broadcast=broadcast)
    return made
