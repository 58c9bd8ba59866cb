"""``manage.py restore_drill``: restore the newest backup into a scratch database, compare
every table's row count with the counts taken when it was dumped, run the ledger
reconciliations on the copy, and drop it. Exit status 1 when anything disagrees."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from clinic.backups import BackupError, restore_drill


class Command(BaseCommand):
    help = "Restore the latest dump into a scratch database and check it."

    def add_arguments(self, parser):
        parser.add_argument("--keep", action="store_true", help="keep the scratch database for inspection")
        parser.add_argument("--database", help="scratch database name (default: <name>_restore_drill)")

    def handle(self, *args, **options):
        try:
            result = restore_drill(keep=options["keep"], database=options.get("database"))
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for table, (expected, restored) in result.mismatches.items():
            self.stderr.write(f"row count differs: {table}: dumped {expected}, restored {restored}")
        for check, problems in result.problems.items():
            if problems:
                self.stderr.write(f"{check}: {len(problems)} drifted accounts, e.g. {problems[:5]}")
        drift = sum(len(p) for p in result.problems.values())
        self.stdout.write(
            f"DRILL {result.run.file_name} tables={result.tables} rows={result.rows} "
            f"count_mismatches={len(result.mismatches)} drift={drift} ok={'yes' if result.ok else 'no'}"
        )
        if not result.ok:
            raise CommandError("restore drill found differences")
