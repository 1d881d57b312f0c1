"""The manifest is prepared once per state of the dbt project, never when it is current."""

import json
import os
import shutil
from pathlib import Path

from dagster_dbt import DbtProject

from assets.dbt import batch_window_env, run_partition_keys
from flightline import settings
from resources.dbt import (
    FINGERPRINT_FILE,
    added_environment,
    prepare_manifest,
    profile_settings,
    project_fingerprint,
    replace_atomically,
    saved_parse_path,
)


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
    (project_dir / ".user.yml").write_text("id: 5d1b4f0e")
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


def test_each_warehouse_keeps_its_own_saved_parse(monkeypatch):
    project = settings.DBT_PROJECT_DIR
    assert "FLIGHTLINE_DUCKDB_PATH" in profile_settings(project)
    monkeypatch.setenv("FLIGHTLINE_DUCKDB_PATH", "/data/a/warehouse.duckdb")
    a = saved_parse_path(project)
    monkeypatch.setenv("FLIGHTLINE_BATCH_MIN_DATE", "2013-01-01")  # read only when dbt executes
    assert saved_parse_path(project) == a
    monkeypatch.setenv("FLIGHTLINE_DUCKDB_PATH", "/data/b/warehouse.duckdb")
    assert saved_parse_path(project) != a
    assert a.parent == project / "target" / "partial_parse"


def test_a_saved_parse_is_replaced_whole_and_a_missing_one_is_not_written(tmp_path):
    source, target = tmp_path / "run" / "partial_parse.msgpack", tmp_path / "saved" / "x.msgpack"
    replace_atomically(source, target)
    assert not target.exists()
    source.parent.mkdir()
    source.write_bytes(b"parse")
    replace_atomically(source, target)
    assert target.read_bytes() == b"parse"
    assert [p.name for p in target.parent.iterdir()] == ["x.msgpack"]  # no staged copy left


def test_the_added_environment_is_undone(monkeypatch):
    monkeypatch.setenv("FLIGHTLINE_BATCH_MAX_DATE", "before")
    monkeypatch.delenv("FLIGHTLINE_BATCH_MIN_DATE", raising=False)
    window = {"FLIGHTLINE_BATCH_MIN_DATE": "2013-01-01", "FLIGHTLINE_BATCH_MAX_DATE": "2013-02-01"}
    with added_environment(window):
        assert {k: os.environ[k] for k in window} == window
    assert os.environ["FLIGHTLINE_BATCH_MAX_DATE"] == "before"
    assert "FLIGHTLINE_BATCH_MIN_DATE" not in os.environ


def test_a_run_over_months_gives_dbt_their_window():
    one = {"dagster/partition": "2013-03-01"}
    span = {
        "dagster/asset_partition_range_start": "2013-01-01",
        "dagster/asset_partition_range_end": "2013-12-01",
    }
    assert run_partition_keys(one) == ["2013-03-01", "2013-03-01"]
    assert batch_window_env(run_partition_keys(one)) == {
        "FLIGHTLINE_BATCH_MIN_DATE": "2013-03-01",
        "FLIGHTLINE_BATCH_MAX_DATE": "2013-04-01",
    }
    assert batch_window_env(run_partition_keys(span))["FLIGHTLINE_BATCH_MAX_DATE"] == "2014-01-01"
    assert run_partition_keys({}) == [] and batch_window_env([]) == {}
