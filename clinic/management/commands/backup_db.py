"""``manage.py backup_db``: one backup now (pg_dump, encryption when configured, rotation),
the same as the nightly beat job ``clinic.tasks.backup``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clinic.backups import BackupError, backup_create, generate_key


class Command(BaseCommand):
    help = "Dump the database into BACKUP_DIR (custom format), then rotate old dumps."

    def add_arguments(self, parser):
        parser.add_argument(
            "--generate-key", action="store_true", help="print a new BACKUP_ENCRYPTION_KEY and exit"
        )
        parser.add_argument(
            "--decrypt",
            nargs=2,
            metavar=("IN", "OUT"),
            help="decrypt an encrypted dump IN (with BACKUP_ENCRYPTION_KEY) into OUT for pg_restore, and exit",
        )

    def handle(self, *args, **options):
        if options.get("generate_key"):
            self.stdout.write(generate_key())
            return
        if options.get("decrypt"):
            from pathlib import Path

            from clinic.backups import _stream_dump

            source, target = (Path(p) for p in options["decrypt"])
            try:
                with target.open("wb") as out:
                    for chunk in _stream_dump(source, encrypted=True):
                        out.write(chunk)
            except BackupError as exc:
                target.unlink(missing_ok=True)
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"decrypted {source} → {target}")
            return
        try:
            run = backup_create()
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        from clinic.services import heartbeat_record

        heartbeat_record(name="clinic.backup")
        rows = sum(run.table_counts.values())
        self.stdout.write(
            f"backup {run.file_name}: {run.size_bytes} bytes, {len(run.table_counts)} tables, "
            f"{rows} rows, encrypted={'yes' if run.encrypted else 'no'}"
        )
