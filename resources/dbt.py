"""The dbt project as Dagster sees it, with its manifest prepared before assets are built."""

from __future__ import annotations

from dagster_dbt import DbtProject

from flightline import settings

# The profile reads FLIGHTLINE_DUCKDB_PATH: export it before dbt parses or runs.
settings.export_environment()

dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR)
# prepare_if_dev() only acts under `dagster dev`/`dg`; a plain import (tests, CI, the CLI) needs a
# manifest too, so parse once when it is missing.
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():
    dbt_project.preparer.prepare(dbt_project)
