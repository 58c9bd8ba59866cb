"""Compile locale/*/LC_MESSAGES/*.po to .mo with polib, so a fresh machine needs no gettext
tools to run the system. (Developers use `makemessages`, which does need gettext.)"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

BASE = Path(__file__).resolve().parent.parent


def compile_all(root: Path = BASE / "locale") -> list[Path]:
    written = []
    for po_path in sorted(root.glob("*/LC_MESSAGES/*.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_all():
        print(f"compiled {path.relative_to(BASE)}")
    sys.exit(0)
