"""`make run`: embedded PostgreSQL, migrations, demo data once, then the web server, a Celery
worker and beat (filesystem broker, no Redis). Ctrl-C stops all of it, the database last."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
PY = sys.executable


def _manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=BASE, check=True)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings.local")
    if os.environ.get("DATABASE_URL"):
        print("DATABASE_URL is set: using that database instead of the embedded one.")
    from clinic import embedded

    var = Path(os.environ.get("CLINIC_VAR_DIR", BASE / "var"))
    pgdata = var / "pgdata"
    if not os.environ.get("DATABASE_URL"):
        embedded.ensure_running(pgdata)
        print(f"Embedded PostgreSQL is running (data in {pgdata}).")
    _manage("migrate", "--no-input", "-v", "0")
    marker = var / ".demo-loaded"
    if not marker.exists():
        _manage("seed_demo")
        marker.write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
    else:
        print(f"Demo data already loaded ({marker}); run `make seed` to refresh it.")
    (var / "celery" / "broker").mkdir(parents=True, exist_ok=True)
    (var / "celery" / "processed").mkdir(parents=True, exist_ok=True)

    host = os.environ.get("RUN_ADDR", "127.0.0.1:8000")
    children = [
        subprocess.Popen([PY, "manage.py", "runserver", host, "--noreload"], cwd=BASE),
        subprocess.Popen(
            [
                PY,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "-n",
                "worker@%h",
            ],
            cwd=BASE,
        ),
        subprocess.Popen([PY, "-m", "celery", "-A", "clinic", "beat", "--loglevel=INFO"], cwd=BASE),
    ]
    print(f"\nClinic CRM: http://{host}/   (Ctrl-C to stop)\n")

    stopping = False

    def _stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if not os.environ.get("DATABASE_URL"):
            embedded.stop(pgdata)
            print("Embedded PostgreSQL stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
