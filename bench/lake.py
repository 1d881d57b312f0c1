"""The scale-out rows of ``make bench``: PostgreSQL + DuckLake against the DuckDB file.

    uv run python -m bench.lake [--scales 1] [--root DIR] [--only concurrency|e2e]

On a throwaway PostgreSQL cluster (bench.pg_cluster; a real server in production):

1. per scale N: ``flightline run --scale N`` with ``FLIGHTLINE_POSTGRES_URL`` and
   ``FLIGHTLINE_WAREHOUSE=ducklake`` (fresh data folder, fresh databases), against the same run on
   the DuckDB file and SQLite instance, measured in the same bench run;
2. two month ingests (``flightline materialize`` for January and February 2013, each its own
   process and run) at the same time on the lake, against the same two one after the other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.pg_cluster import create_database, throwaway_cluster
from bench.run import env_for, fresh, measured, row
from flightline import settings

FLIGHTLINE = [sys.executable, "-m", "flightline.cli"]
MONTHS = ("2013-01", "2013-02")


def lake_env(home: Path, url: str) -> dict[str, str]:
    """``env_for(home)`` on PostgreSQL + DuckLake (instance and catalog in database ``url``)."""
    env = env_for(home)
    for name in ("FLIGHTLINE_LAKE_CATALOG", "FLIGHTLINE_LAKE_DATA_PATH", "FLIGHTLINE_LAKE_ATTACH"):
        env.pop(name, None)
    return {**env, "FLIGHTLINE_WAREHOUSE": "ducklake", "FLIGHTLINE_POSTGRES_URL": url}


def initialize(env: dict[str, str]) -> None:
    """Create the instance's tables and the lake's catalog once (not timed)."""
    code = (
        "import dagster as dg; from flightline.cli import prepare_dagster_home; "
        "from flightline import lake; prepare_dagster_home(); dg.DagsterInstance.get(); "
        "lake.connect().close()"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=settings.PROJECT_ROOT)


def end_to_end(root: Path, server: str, scale: int, file_seconds: float | None) -> list[dict]:
    if file_seconds is None:  # not measured by this bench run yet: measure it now
        home = fresh(root / f"file-{scale}x")
        file_seconds, _ = measured(
            [*FLIGHTLINE, "run", "--scale", str(scale)], env_for(home), home / "run.log"
        )
    home = fresh(root / f"lake-{scale}x")
    env = lake_env(home, create_database(server, f"lake_e2e_{scale}x"))
    initialize(env)
    seconds, gib = measured([*FLIGHTLINE, "run", "--scale", str(scale)], env, home / "run.log")
    return [
        row(
            f"{scale}x end to end, PostgreSQL + DuckLake vs DuckDB file",
            seconds,
            "x",
            file_seconds,
            note=f"lake {seconds:.1f} s (peak {gib:.2f} GiB), file {file_seconds:.1f} s",
        )
    ]


def concurrent_ingests(root: Path, server: str) -> list[dict]:
    """Two month ingests at once on the lake against the same two in sequence."""
    timings = {}
    for mode in ("sequential", "concurrent"):
        home = fresh(root / f"lake-ingest-{mode}")
        env = lake_env(home, create_database(server, f"lake_ingest_{mode}"))
        subprocess.run(
            [*FLIGHTLINE, "land", "--from", MONTHS[0], "--to", MONTHS[-1]],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=settings.PROJECT_ROOT,
        )
        initialize(env)
        commands = [[*FLIGHTLINE, "materialize", "--from", m, "--to", m] for m in MONTHS]
        started = time.perf_counter()
        if mode == "sequential":
            for i, cmd in enumerate(commands):
                measured(cmd, env, home / f"ingest-{i}.log")
        else:
            logs = [(home / f"ingest-{i}.log").open("w") for i in range(len(commands))]
            procs = [
                subprocess.Popen(
                    cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.PROJECT_ROOT
                )
                for cmd, log in zip(commands, logs, strict=True)
            ]
            codes = [p.wait() for p in procs]
            for log in logs:
                log.close()
            if any(codes):
                raise RuntimeError(f"concurrent ingests failed ({codes}); see {home}/ingest-*.log")
        timings[mode] = time.perf_counter() - started
    return [
        row(
            "two month ingests on the lake: at once vs one after the other",
            timings["concurrent"],
            "x",
            timings["sequential"],
            note=f"at once {timings['concurrent']:.1f} s, in sequence {timings['sequential']:.1f} s "
            f"({', '.join(MONTHS)}; each a `flightline materialize` process and run)",
        )
    ]


def lake_rows(
    root: Path, scales: list[int], file_seconds: dict[int, float], only: str = ""
) -> list[dict]:
    """Every scale-out row, on one throwaway cluster."""
    rows: list[dict] = []
    with throwaway_cluster() as server:
        if only in ("", "e2e"):
            for scale in scales:
                rows += end_to_end(root, server, scale, file_seconds.get(scale))
        if only in ("", "concurrency"):
            rows += concurrent_ingests(root, server)
    return rows


def main() -> None:
    from bench.run import print_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1")
    parser.add_argument("--root", default="/tmp/flightline-bench-lake")
    parser.add_argument("--only", choices=["concurrency", "e2e"], default="")
    args = parser.parse_args()
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    scales = sorted({int(s) for s in args.scales.split(",")})
    rows = lake_rows(root, scales, {}, args.only)
    print_table({"load_average_at_start": os.getloadavg(), "cores": os.cpu_count()}, rows)


if __name__ == "__main__":
    main()
