"""``make bench``: every figure of BENCHMARKS.md in one run, each next to its baseline.

    uv run python -m bench.run [--scales 1,10,30] [--incremental-scale 10] [--root DIR]

Runs, one after another (never two at once: the machine has 2 cores):

1. per scale N: ``flightline run --scale N`` (Dagster, cold: fresh data folder) and
   ``python -m bench.plain_pipeline --scale N`` (same functions, no Dagster), each a subprocess
   whose wall time and peak memory (sum of the resident memory of its process tree, sampled every
   0.2 s) are measured from outside;
2. one new month landing on top of the N-times warehouse (``flightline simulate`` the next
   month, then ``flightline materialize`` for it and ``flightline features``) against a full
   rebuild of the same assets (``materialize`` every month and ``features --full-rebuild``);
3. LightGBM training time, read from the model card of each Dagster run;
4. the Polars feature build against a pandas implementation (bench/pandas_features.py) on the
   1x warehouse, outputs asserted equal;
5. serving: in process against ``bentoml serve`` under load from another process, next to a
   no-work HTTP floor and BentoML's adaptive batching, then a soak (``--soak-seconds``, default
   600) (bench/serving.py), on the 1x data folder;
6. scale-out (bench/lake.py, on a throwaway PostgreSQL cluster): the 1x and 30x end to end on
   PostgreSQL + DuckLake against the DuckDB file runs of step 1, and two month ingests at once
   on the lake against the same two in sequence;
7. start-up (bench/startup.py): ``import definitions`` against ``import dagster, dagster_dbt``,
   fresh processes, medians of 5 each, and ``dagster definitions validate``.

Prints one table (and writes it as JSON to ``<root>/results.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path

import psutil

from bench.pandas_features import run_feature_benchmark
from bench.serving import run_serving_benchmark
from flightline import settings

GIB = 1024**3
TARGETS = {
    # (figure, scale): (bound, kind)
    ("e2e_seconds", 1): (90.0, "<="),
    ("overhead", 1): (1.5, "<="),
    ("overhead", 30): (1.15, "<="),
    ("e2e_seconds", 30): (15 * 60.0, "<="),
    ("peak_gib", 30): (8.0, "<="),
}


def machine() -> dict[str, object]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        **{
            p: version(p)
            for p in ("dagster", "dbt-core", "duckdb", "polars", "lightgbm", "bentoml")
        },
    }


def measured(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """(wall seconds, peak GiB of the process tree) of a command; raises if it fails."""
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=settings.PROJECT_ROOT
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            root = psutil.Process(proc.pid)
            while not done.is_set():
                try:
                    tree = [root, *root.children(recursive=True)]
                    peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
                except psutil.Error:
                    pass
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}); see {log}")
    return seconds, peak / GIB


def env_for(home: Path) -> dict[str, str]:
    """This environment pointed at ``home`` (paths derived from it, not inherited)."""
    derived = ("DAGSTER_HOME", "BENTOML_HOME", "FLIGHTLINE_DUCKDB_PATH")
    env = {k: v for k, v in os.environ.items() if k not in derived}
    return {**env, "FLIGHTLINE_HOME": str(home)}


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def row(name, value, unit, baseline=None, target=None, note="") -> dict:
    ratio = value / baseline if baseline else None
    met = None
    if target is not None:
        bound, kind = target
        checked = ratio if unit == "x" else value
        met = checked <= bound if kind == "<=" else checked >= bound
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": ratio,
        "target": f"{target[1]} {target[0]:g}" if target else None,
        "met": met,
        "note": note,
    }


def end_to_end(root: Path, scale: int) -> tuple[list[dict], Path]:
    flightline = [sys.executable, "-m", "flightline.cli"]
    home = fresh(root / f"dagster-{scale}x")
    d_s, d_gib = measured(
        [*flightline, "run", "--scale", str(scale)], env_for(home), home / "run.log"
    )
    plain_home = fresh(root / f"plain-{scale}x")
    p_s, p_gib = measured(
        [sys.executable, "-m", "bench.plain_pipeline", "--scale", str(scale)],
        env_for(plain_home),
        plain_home / "run.log",
    )
    card = latest_card(home)
    rows = [
        row(
            f"{scale}x end to end, Dagster (s)", d_s, "s", None, TARGETS.get(("e2e_seconds", scale))
        ),
        row(
            f"{scale}x peak memory, Dagster (GiB)",
            d_gib,
            "GiB",
            None,
            TARGETS.get(("peak_gib", scale)),
        ),
        row(f"{scale}x end to end, plain script (s)", p_s, "s", note=f"peak {p_gib:.2f} GiB"),
        row(
            f"{scale}x orchestration overhead (Dagster / plain)",
            d_s,
            "x",
            p_s,
            TARGETS.get(("overhead", scale)),
        ),
        row(
            f"{scale}x LightGBM training (s)",
            card["train_seconds"],
            "s",
            note=f"{card['rows']['train_and_valid']:,} rows, {card['best_iteration']} rounds "
            f"(early-stopped), test AUC {card['metrics']['model']['auc']:.4f}",
        ),
    ]
    return rows, home


def latest_card(home: Path) -> dict:
    cards = sorted((home / "models" / "delay_model").glob("*/model_card.json"))
    return json.loads(cards[-1].read_text())


def incremental_month(home: Path, scale: int) -> list[dict]:
    """One new month on top of the N-times warehouse, against rebuilding the same assets."""
    flightline = [sys.executable, "-m", "flightline.cli"]
    env = env_for(home)
    month = f"{2013 + scale}-01"
    subprocess.run(
        [*flightline, "simulate", "--months", month],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=settings.PROJECT_ROOT,
    )
    # Each side is one process, as a user runs it: load, dbt and features together.
    inc, _ = measured(
        [*flightline, "materialize", "--from", month, "--to", month, "--features"],
        env,
        home / "incremental.log",
    )
    full, _ = measured(
        [*flightline, "materialize", "--from", "2013-01", "--to", month, "--features"]
        + ["--full-rebuild"],
        env,
        home / "full_rebuild.log",
    )
    return [
        row(
            f"one new month vs full rebuild, {scale}x (ingest + dbt + features)",
            inc,
            "x",
            full,
            (0.15, "<="),
            note=f"new month {inc:.1f} s, full rebuild {full:.1f} s",
        )
    ]


def feature_rows(home: Path) -> list[dict]:
    rows = []
    for r in run_feature_benchmark(home / "warehouse.duckdb"):
        note = f"speed-up pandas/Polars {r['ratio']:.2f}x; runs: Polars {r['polars_runs']}, pandas {r['pandas_runs']}"
        rows.append({**r, "unit": "s", "note": note})
    return rows


def serving_rows(home: Path, soak_seconds: float) -> list[dict]:
    rows = []
    for r in run_serving_benchmark(home, soak_seconds=soak_seconds):
        if r["target"] is None:
            rows.append({**r, "met": None})
        else:
            rows.append({**r, "target": r["target_text"]})
    return rows


def startup_rows(root: Path) -> list[dict]:
    from bench.startup import startup_figures

    f = startup_figures(repeat=5, validate=True, env=env_for(fresh(root / "startup")))
    return [
        row(
            "load the definitions vs import dagster, dagster_dbt",
            f["import_definitions_s"],
            "x",
            f["import_dagster_dagster_dbt_s"],
            (2.0, "<="),
            note=f"medians of {f['runs']}: {f['import_definitions_s']:.1f} vs "
            f"{f['import_dagster_dagster_dbt_s']:.1f} s; dagster definitions validate "
            f"{f['definitions_validate_s']:.1f} s",
        )
    ]


def print_table(info: dict, rows: list[dict]) -> None:
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(
        f"{'figure':<62} {'value':>10} {'unit':<9} {'baseline':>10} {'ratio':>7} {'target':>8}  met"
    )
    for r in rows:
        value = f"{r['value']:.2f}" if isinstance(r["value"], float) else str(r["value"])
        base = f"{r['baseline']:.2f}" if r["baseline"] is not None else ""
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else ""
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        print(
            f"{r['name']:<62} {value:>10} {r['unit']:<9} {base:>10} {ratio:>7} {r['target'] or '':>8}  {met}"
        )
        if r.get("note"):
            print(f"{'':<4}{r['note']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default=os.environ.get("BENCH_SCALES", "1,10,30"))
    parser.add_argument("--incremental-scale", type=int, default=None)
    parser.add_argument("--root", default=os.environ.get("BENCH_ROOT", "/tmp/flightline-bench"))
    parser.add_argument(
        "--soak-seconds",
        type=float,
        default=float(os.environ.get("BENCH_SOAK_SECONDS", "600")),
        help="the serving soak's length (0: none)",
    )
    args = parser.parse_args()
    scales = sorted({int(s) for s in args.scales.split(",")})
    incremental_scale = args.incremental_scale or (10 if 10 in scales else scales[0])
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    info = machine()
    rows: list[dict] = []
    homes = {}
    for scale in scales:
        scale_rows, homes[scale] = end_to_end(root, scale)
        rows += scale_rows
        print_table(info, rows)
    one_x = homes.get(1) or homes[scales[0]]
    file_seconds = {
        s: next(r["value"] for r in rows if r["name"] == f"{s}x end to end, Dagster (s)")
        for s in scales
    }

    def scale_out() -> list[dict]:
        from bench.lake import lake_rows

        return lake_rows(root, [s for s in (1, 30) if s in scales], file_seconds)

    sections = {
        "incremental": lambda: incremental_month(homes[incremental_scale], incremental_scale),
        "features": lambda: feature_rows(one_x),
        "serving": lambda: serving_rows(one_x, args.soak_seconds),
        "scale-out": scale_out,
        "startup": lambda: startup_rows(root),
    }
    for name, section in sections.items():
        try:
            rows += section()
        except Exception as e:  # keep the figures measured so far
            rows.append(row(f"{name}: FAILED", 0.0, "", note=repr(e)))
    print_table(info, rows)
    (root / "results.json").write_text(
        json.dumps({"machine": info, "rows": rows}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
