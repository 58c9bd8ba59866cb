"""Move encrypted person data and ID-number lookup hashes to the current keys, after a key
rotation (a new ``MEMBERS_ENCRYPTION_KEYS`` first in the list, or a new ``SECRET_KEY`` with
the old one in ``SECRET_KEY_FALLBACKS``). Batched and idempotent: rows already on the current
keys are left alone, so it can be stopped and run again. When it reports 0 rows to move, the
old key can be removed from the settings."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from clinic.services import audit_record
from members import crypto

ENCRYPTED = ("id_number", "allergies", "conditions", "dental_history")


class Command(BaseCommand):
    help = "Re-encrypt ID numbers and medical notes, and re-hash ID numbers, with the current keys."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=1000)

    def handle(self, *args, batch: int, **options) -> None:
        crypto.reset_caches()
        moved = seen = 0
        last = 0
        columns = ", ".join(ENCRYPTED)
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, {columns}, id_number_hash FROM members_member WHERE id > %s "
                    "ORDER BY id LIMIT %s FOR UPDATE",
                    [last, batch],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                updates = []
                for pk, *values in rows:
                    tokens, stored_hash = values[:-1], values[-1]
                    new = [crypto.encrypt_again(t) if t else None for t in tokens]
                    new_hash = stored_hash
                    if tokens[0]:
                        new_hash = crypto.lookup_hash(crypto.decrypt(tokens[0]))
                    if any(new) or new_hash != stored_hash:
                        merged = [n if n is not None else t for n, t in zip(new, tokens, strict=True)]
                        updates.append([*merged, new_hash, pk])
                if updates:
                    sets = ", ".join(f"{c} = %s" for c in ENCRYPTED)
                    cursor.executemany(
                        f"UPDATE members_member SET {sets}, id_number_hash = %s WHERE id = %s", updates
                    )
                moved += len(updates)
                seen += len(rows)
                last = rows[-1][0]
        if moved:
            audit_record(actor=None, action="members.keys.rekeyed", changes={"rows": moved, "checked": seen})
        self.stdout.write(f"{seen} people checked, {moved} moved to the current keys.")
