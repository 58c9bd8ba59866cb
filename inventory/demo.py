"""Demo stock, called by ``seed_demo`` before the visits are checked out (so their checkouts
take materials): items of every kind, batches near expiry (within 30 / 60 / 90 days), one
expired (part written off as waste), one item below its reorder level, the default materials
of 洁牙, 补牙 and 种植, and three months of past use so that the reports show figures.

Idempotent: items and defaults are get-or-create; the stock is received once (the receipts
are marked ``[demo]`` in their note)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from clinic.models import Branch, ServiceItem

from . import services
from .models import Item, ItemKind, Movement, ReorderLevel, ServiceMaterialDefault

DEMO = "[demo]"

# code, name, English name, kind, unit, default reorder level
ITEMS = [
    ("GL01", "一次性医用手套", "Disposable gloves", ItemKind.CONSUMABLE, "副", 100),
    ("MK01", "医用外科口罩", "Surgical masks", ItemKind.CONSUMABLE, "个", 100),
    ("PC01", "抛光杯", "Polishing cups", ItemKind.CONSUMABLE, "个", 30),
    ("CR01", "光固化复合树脂 A2", "Composite resin A2", ItemKind.CONSUMABLE, "支", 10),
    ("AN01", "阿替卡因肾上腺素注射液", "Articaine with epinephrine", ItemKind.DRUG, "支", 40),
    ("FL01", "氟保护漆", "Fluoride varnish", ItemKind.DRUG, "支", 10),
    ("SY01", "一次性根管冲洗针", "Endodontic irrigation needles", ItemKind.DEVICE, "支", 20),
    ("IP01", "种植体 4.1×10mm（国产）", "Implant 4.1×10 mm (domestic)", ItemKind.IMPLANT, "颗", 3),
    ("IP02", "种植体 4.1×10mm（进口）", "Implant 4.1×10 mm (imported)", ItemKind.IMPLANT, "颗", 0),
]

# branch, item, lot, days to expiry, supplier, unit cost, quantity
STOCK = [
    ("JA", "GL01", "GL2611A", 420, "国药集团医疗器械", "1.20", 800),
    ("JA", "MK01", "MK2609C", 300, "国药集团医疗器械", "0.50", 600),
    ("JA", "MK01", "MK2512A", -5, "国药集团医疗器械", "0.50", 300),  # expired (mostly used before)
    ("JA", "PC01", "PC2607", 250, "登士柏中国", "3.00", 300),
    ("JA", "CR01", "CR2602B", 55, "3M中国", "85.00", 30),  # within 60 days
    ("JA", "CR01", "CR2611A", 400, "3M中国", "85.00", 20),
    ("JA", "AN01", "AN2601X", 25, "碧兰中国", "18.00", 120),  # within 30 days
    ("JA", "AN01", "AN2609Y", 280, "碧兰中国", "18.00", 150),
    ("JA", "FL01", "FL2603", 80, "高露洁专业", "45.00", 9),  # within 90 days, below the level
    ("JA", "SY01", "SY2608", 270, "登士柏中国", "2.50", 200),
    ("JA", "IP01", "WG-2026-0712", 900, "威高骨科", "2600.00", 12),
    ("JA", "IP02", "ST-2026-0388", 1100, "士卓曼（中国）", "5200.00", 6),
    ("PD", "GL01", "GL2611A", 420, "国药集团医疗器械", "1.20", 500),
    ("PD", "MK01", "MK2609C", 300, "国药集团医疗器械", "0.50", 400),
    ("PD", "PC01", "PC2607", 250, "登士柏中国", "3.00", 200),
    ("PD", "CR01", "CR2611A", 400, "3M中国", "85.00", 25),
    ("PD", "AN01", "AN2609Y", 280, "碧兰中国", "18.00", 120),
    ("PD", "FL01", "FL2609", 300, "高露洁专业", "45.00", 20),
    ("PD", "SY01", "SY2608", 270, "登士柏中国", "2.50", 150),
    ("PD", "IP01", "WG-2026-0712", 900, "威高骨科", "2600.00", 6),
]

# service code → [(item code, quantity per unit of service)]
DEFAULTS = {
    "PV01": [("GL01", 1), ("MK01", 1), ("PC01", 1)],  # 超声洁牙
    "PV02": [("GL01", 1), ("PC01", 1)],  # 喷砂抛光
    "PV03": [("GL01", 1), ("FL01", 1)],  # 涂氟
    "PE01": [("GL01", 1), ("FL01", 1)],  # 儿童涂氟
    "EX01": [("GL01", 1), ("MK01", 1)],  # 口腔检查
    "EN01": [("GL01", 1), ("CR01", 1), ("AN01", 1)],  # 树脂补牙
    "EN02": [("GL01", 2), ("SY01", 2), ("AN01", 1)],  # 根管治疗（前牙）
    "EN03": [("GL01", 2), ("SY01", 3), ("AN01", 2)],  # 根管治疗（磨牙）
    "SU01": [("GL01", 1), ("AN01", 1)],  # 普通拔牙
    "SU02": [("GL01", 2), ("AN01", 2)],  # 智齿拔除
    "IM01": [("IP01", 1), ("AN01", 2), ("GL01", 2)],  # 种植体（国产）
    "IM02": [("IP02", 1), ("AN01", 2), ("GL01", 2)],  # 种植体（进口）
}

# Past use per branch, spread over the last 90 days: (item code, units per week, service code)
PAST_USE = [
    ("GL01", 30, "PV01"),
    ("MK01", 20, "PV01"),
    ("PC01", 12, "PV01"),
    ("AN01", 3, "EN01"),
    ("CR01", 1, "EN01"),
    ("SY01", 6, "EN02"),
]


def seed_inventory(*, branches: dict[str, Branch]) -> int:
    """Returns the number of receipts made (0 on a re-run)."""
    items = {}
    for code, name, name_en, kind, unit, level in ITEMS:
        items[code], _ = Item.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "kind": kind,
                "unit": unit,
                "default_reorder_level": level,
            },
        )
    ReorderLevel.objects.get_or_create(item=items["FL01"], branch=branches["JA"], defaults={"level": 15})
    ReorderLevel.objects.get_or_create(item=items["IP02"], branch=branches["JA"], defaults={"level": 2})
    services_by_code = {s.code: s for s in ServiceItem.objects.filter(code__in=DEFAULTS)}
    for scode, rows in DEFAULTS.items():
        if scode not in services_by_code:
            continue
        for icode, qty in rows:
            ServiceMaterialDefault.objects.get_or_create(
                service=services_by_code[scode], item=items[icode], defaults={"quantity": qty}
            )
    if Movement.objects.filter(reason=DEMO).exists():
        return 0
    now = timezone.now()
    received_at = now - dt.timedelta(days=120)
    for bcode, icode, lot, days, supplier, cost, qty in STOCK:
        services.stock_receive(
            actor=None,
            branch=branches[bcode],
            item=items[icode],
            lot_number=lot,
            expiry_date=timezone.localdate() + dt.timedelta(days=days),
            supplier=supplier,
            unit_cost=Decimal(cost),
            quantity=qty,
            reason=DEMO,
            at=received_at if days < 0 else received_at + dt.timedelta(days=20),
        )
    # Past use (not on a visit: the visits of the demo's history carry none), weekly.
    for branch in branches.values():
        for week in range(12, 0, -1):
            at = now - dt.timedelta(days=7 * week)
            for icode, per_week, scode in PAST_USE:
                services.stock_use(
                    actor=None,
                    branch=branch,
                    item=items[icode],
                    quantity=per_week,
                    service_item=services_by_code.get(scode),
                    reason="[demo] 历史用量",
                    at=at,
                )
    # Waste from expiry: part of the expired masks written off (the rest waits on the list).
    from .models import Batch

    expired = Batch.objects.get(item=items["MK01"], lot_number="MK2512A")
    services.stock_write_off(actor=None, branch=branches["JA"], batch=expired, quantity=30, reason="过期报废")
    return len(STOCK)
