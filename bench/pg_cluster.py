"""A throwaway local PostgreSQL cluster, for the tests and the benchmark of the scale-out path.

``initdb`` + ``pg_ctl`` on a free port in a folder of its own, trust authentication on
127.0.0.1, removed on exit. ``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` user (in a folder that user owns). Nothing here is used by the platform itself: in
production ``FLIGHTLINE_POSTGRES_URL`` names a server someone runs.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.local_servers import free_port

SUPERUSER = "postgres"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) on this machine."""


def server_bin_dir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl`` (``PG_BIN``, then Debian's layout, then PATH)."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("initdb")
    candidates += [str(Path(found).parent)] if found else []
    for folder in candidates:
        if folder and (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (no initdb/pg_ctl in $PG_BIN, "
        "/usr/lib/postgresql/*/bin or PATH): install the `postgresql` package"
    )


def _as_server_user(args: list[str], user: str | None) -> list[str]:
    if user is None:
        return args
    return ["su", user, "-s", "/bin/bash", "-c", shlex.join(args)]


@contextlib.contextmanager
def throwaway_cluster(databases: tuple[str, ...] = ("flightline",)) -> Iterator[str]:
    """Start a fresh cluster, create ``databases``, yield the URL of the first one, then remove it.

    The URL has the form ``postgresql://postgres@127.0.0.1:<port>/<database>``.
    """
    bin_dir = server_bin_dir()
    user = SUPERUSER if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="flightline-pg-"))
    data = root / "data"
    if user is not None:  # the server user must own its folder (and reach it)
        entry = pwd.getpwnam(user)
        os.chmod(root, 0o755)
        os.chown(root, entry.pw_uid, entry.pw_gid)

    def run(*args: str) -> None:
        proc = subprocess.run(
            _as_server_user([str(bin_dir / args[0]), *args[1:]], user),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            log = root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {proc.stderr.strip()}\n{tail}")

    port = free_port()
    try:
        run("initdb", "-D", str(data), "-A", "trust", "-U", SUPERUSER, "--no-sync", "-E", "UTF8")
        # Listen on 127.0.0.1 and a socket in the cluster's own folder; fsync off: throwaway data.
        opts = f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off -c max_connections=200"
        run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(root / "server.log"), "-w", "start")
        try:
            for db in databases:
                run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER, db)
            yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{databases[0]}"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """Create database ``name`` on the server of ``url``; return its URL."""
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return url.rsplit("/", 1)[0] + f"/{name}"
