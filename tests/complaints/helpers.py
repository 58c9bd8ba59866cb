from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.files.uploadedfile import SimpleUploadedFile

from complaints import services

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
# Friday 2025-09-26 10:00: the next working days are Sunday 09-28 (调休), 09-29, 09-30, then
# 国庆 and 中秋 until 10-08, then 10-09.
FRIDAY = dt.datetime(2025, 9, 26, 10, 0, tzinfo=SH)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def png(name: str = "photo.png", data: bytes = PNG):
    return SimpleUploadedFile(name, data, content_type="image/png")


def receive(actor, branch, member=None, **kwargs):
    kwargs.setdefault("channel", "phone")
    kwargs.setdefault("subject", "候诊时间太长")
    kwargs.setdefault("description", "预约 10 点，11 点才看上。")
    kwargs.setdefault("category", "waiting")
    kwargs.setdefault("expectation", "道歉并改进")
    return services.complaint_receive(actor=actor, branch=branch, member=member, **kwargs)


def walk_to(actor, complaint, status: str, reviewer=None):
    """Drive a complaint forward to ``status`` through the services."""
    order = ["received", "acknowledged", "investigating", "proposed", "accepted", "resolved", "closed"]
    steps = {
        "acknowledged": lambda c: services.complaint_acknowledge(actor=actor, complaint=c, note="已致电确认"),
        "investigating": lambda c: services.complaint_investigate(actor=actor, complaint=c),
        "proposed": lambda c: services.complaint_propose(
            actor=actor, complaint=c, resolution="赠送洁牙券一张"
        ),
        "accepted": lambda c: services.complaint_accept(actor=actor, complaint=c),
        "resolved": lambda c: services.complaint_resolve(actor=actor, complaint=c),
        "closed": lambda c: services.complaint_close(
            actor=actor,
            complaint=c,
            satisfaction=4,
            root_cause="process",
            corrective_action="调整排班，高峰期加派医生",
            lessons="预约间隔留足余量",
        ),
    }
    for name in order[order.index(complaint.status) + 1 : order.index(status) + 1]:
        complaint = steps[name](complaint)
    return complaint
