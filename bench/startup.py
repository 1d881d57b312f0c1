"""Loading the definitions against importing Dagster and dagster-dbt, each in fresh processes.

    uv run python -m bench.startup [--repeat 5] [--validate]

Each repetition starts ``python -c "import dagster, dagster_dbt"`` and then
``python -c "import definitions"`` (alternating, so both see the same machine load) and times
each from the outside; the medians and their ratio are printed. The manifest is prepared before
the first timing, so the figures are those of every start after the first. ``--validate`` also
times ``dagster definitions validate -m definitions`` once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from flightline import settings

BASELINE = "import dagster, dagster_dbt"
DEFINITIONS = "import definitions"


def seconds(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        cmd,
        env=env,
        cwd=settings.PROJECT_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def startup_figures(repeat: int, validate: bool, env: dict[str, str] | None = None) -> dict:
    """Medians of ``repeat`` fresh imports of each, their ratio and (optionally) the validate time."""
    env = {**(env or os.environ), "PYTHONWARNINGS": "ignore"}
    seconds([sys.executable, "-c", DEFINITIONS], env)  # prepares the manifest if it is stale
    base, defs = [], []
    for _ in range(repeat):
        base.append(seconds([sys.executable, "-c", BASELINE], env))
        defs.append(seconds([sys.executable, "-c", DEFINITIONS], env))
    figures = {
        "import_dagster_dagster_dbt_s": statistics.median(base),
        "import_definitions_s": statistics.median(defs),
        "runs": repeat,
    }
    figures["ratio"] = figures["import_definitions_s"] / figures["import_dagster_dagster_dbt_s"]
    if validate:
        dagster = [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "definitions"]
        figures["definitions_validate_s"] = seconds(dagster, env)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args()
    figures = startup_figures(args.repeat, args.validate)
    print(f"machine load average at the end: {os.getloadavg()}")
    print(f"{BASELINE!r:<36} median {figures['import_dagster_dagster_dbt_s']:6.2f} s")
    print(f"{DEFINITIONS!r:<36} median {figures['import_definitions_s']:6.2f} s")
    print(f"ratio definitions / (dagster + dagster_dbt): {figures['ratio']:.2f} (target <= 2)")
    if "definitions_validate_s" in figures:
        print(f"dagster definitions validate: {figures['definitions_validate_s']:.2f} s")


if __name__ == "__main__":
    main()
