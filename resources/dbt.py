"""The dbt project as Dagster sees it, with its manifest prepared before assets are built."""

from __future__ import annotations

import fcntl

from dagster_dbt import DbtProject

from flightline import settings

# The profile reads FLIGHTLINE_DUCKDB_PATH: export it before dbt parses or runs.
settings.export_environment()

# The lake gets a target folder of its own: dbt keeps its partial parse only while the profile is
# unchanged, so one folder per warehouse spares each dbt run a full parse (~20 s) on the lake.
dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    target_path="target" if settings.warehouse_kind() == "duckdb" else "target-ducklake",
)
# prepare_if_dev() only acts under `dagster dev`/`dg`; a plain import (tests, CI, the CLI) needs a
# manifest too, so parse once when it is missing.
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():
    # Two runs started at once on a fresh checkout: one parses, the other waits and reuses it.
    dbt_project.manifest_path.parent.mkdir(parents=True, exist_ok=True)
    with open(dbt_project.manifest_path.parent / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not dbt_project.manifest_path.exists():
            dbt_project.preparer.prepare(dbt_project)
