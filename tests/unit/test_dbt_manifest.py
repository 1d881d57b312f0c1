"""The manifest is prepared once per state of the dbt project, never when it is current."""

import json
import shutil
from pathlib import Path

from dagster_dbt import DbtProject

from flightline import settings
from resources.dbt import FINGERPRINT_FILE, prepare_manifest, project_fingerprint


def copy_project(tmp_path: Path) -> Path:
    project_dir = tmp_path / "dbt_project"
    shutil.copytree(
        settings.DBT_PROJECT_DIR,
        project_dir,
        ignore=shutil.ignore_patterns("target*", "logs", "dbt_packages"),
    )
    return project_dir


def test_fingerprint_follows_what_dbt_reads(tmp_path):
    project_dir = copy_project(tmp_path)
    before = project_fingerprint(project_dir, "duckdb")

    # dbt's own output does not change it ...
    (project_dir / "target").mkdir()
    (project_dir / "target" / "manifest.json").write_text("{}")
    (project_dir / "logs").mkdir()
    (project_dir / "logs" / "dbt.log").write_text("log")
    assert project_fingerprint(project_dir, "duckdb") == before

    # ... the profile's target, an edited model, a new macro and an edited profile do.
    assert project_fingerprint(project_dir, "ducklake") != before
    model = project_dir / "models" / "marts" / "dim_airlines.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    edited = project_fingerprint(project_dir, "duckdb")
    assert edited != before
    (project_dir / "macros" / "new_macro.sql").write_text("{% macro m() %}1{% endmacro %}")
    assert project_fingerprint(project_dir, "duckdb") not in (before, edited)
    profiles = project_dir / "profiles.yml"
    with_macro = project_fingerprint(project_dir, "duckdb")
    profiles.write_text(profiles.read_text() + "\n# edited\n")
    assert project_fingerprint(project_dir, "duckdb") != with_macro


def test_current_manifest_is_not_parsed_again(tmp_path):
    project = DbtProject(project_dir=copy_project(tmp_path))

    def generated_at() -> str:
        return json.loads(project.manifest_path.read_text())["metadata"]["generated_at"]

    assert prepare_manifest(project, "duckdb") is True
    assert "model.flightline.fct_flights" in json.loads(project.manifest_path.read_text())["nodes"]
    first = generated_at()
    assert prepare_manifest(project, "duckdb") is False
    assert generated_at() == first

    # An edited description changes the manifest: it is parsed again.
    schema = project.project_dir / "models" / "marts" / "dim_airlines.yml"
    schema.write_text(schema.read_text().replace("One row per airline", "One row per carrier"))
    assert prepare_manifest(project, "duckdb") is True
    manifest = json.loads(project.manifest_path.read_text())
    assert manifest["metadata"]["generated_at"] != first
    assert manifest["nodes"]["model.flightline.dim_airlines"]["description"].startswith(
        "One row per carrier"
    )
    fingerprint = (project.manifest_path.parent / FINGERPRINT_FILE).read_text().strip()
    assert fingerprint == project_fingerprint(project.project_dir, "duckdb")
