"""What the Dagster UI shows before anything has run: descriptions, owners, column schemas.

All read from the one Definitions object (with the dbt project's manifest), so a new check
without a description, an asset without an owner or a dbt column whose description does not
reach Dagster fails here.
"""

import dagster as dg
import numpy as np
import polars as pl
import pytest
import yaml

from assets.dbt import describe_test
from assets.metadata import OWNERS, rounded, rounded_metadata
from flightline.raw_schemas import FLIGHTS, LOAD_COLUMNS, RAW_TABLES, domain_text
from flightline.settings import DBT_PROJECT_DIR


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from definitions import defs

    return defs


@pytest.fixture(scope="module")
def specs(defs) -> dict[dg.AssetKey, dg.AssetSpec]:
    return {s.key: s for s in defs.resolve_all_asset_specs()}


def column_schema(spec: dg.AssetSpec) -> dict[str, dg.TableColumn]:
    schema = spec.metadata.get("dagster/column_schema")
    assert schema is not None, f"{spec.key.to_user_string()} has no column schema"
    return {c.name: c for c in schema.columns}


def test_every_check_spec_has_a_description(defs):
    graph = defs.resolve_asset_graph()
    check_specs = [
        spec
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable
        for spec in graph.get(key).assets_def.check_specs
    ] + [spec for checks in defs.asset_checks or [] for spec in checks.check_specs]
    assert len(check_specs) > 60  # dbt tests, the raw, feature and gate checks
    missing = sorted({s.key.to_user_string() for s in check_specs if not s.description})
    assert not missing, f"check specs without a description: {missing}"


def test_every_asset_has_an_owner(specs):
    assert len(specs) > 20
    assert {k.to_user_string(): list(s.owners) for k, s in specs.items() if not s.owners} == {}
    assert all(set(OWNERS) <= set(s.owners) for s in specs.values())


def test_dbt_column_descriptions_reach_the_column_schema(specs):
    # one YAML per model; _sources.yml describes the raw tables
    for yml in sorted((DBT_PROJECT_DIR / "models").glob("*/[!_]*.yml")):
        layer = yml.parent.name
        for model in yaml.safe_load(yml.read_text())["models"]:
            columns = column_schema(specs[dg.AssetKey([layer, model["name"]])])
            for declared in model.get("columns", []):
                shown = columns[declared["name"]].description or ""
                assert " ".join(shown.split()) == " ".join(declared["description"].split())


def test_raw_assets_describe_every_column_with_its_domain(specs):
    for table in RAW_TABLES.values():
        columns = column_schema(specs[dg.AssetKey(["raw", table.name])])
        assert list(columns) == [*table.columns, *LOAD_COLUMNS]
        assert all(c.description for c in columns.values()), table.name
    flights = column_schema(specs[dg.AssetKey(["raw", "flights"])])
    # the dbt source's text, then the domain the load enforces
    assert flights["distance"].description == (
        "Distance between airports, miles. Loaded only if: required; 1 to 12000."
    )
    assert flights["distance"].type == "INTEGER"
    assert domain_text(FLIGHTS.schema["origin"], False) == "one of EWR, JFK, LGA"


def test_dbt_tests_are_described_from_their_arguments():
    def test(name: str, **kwargs) -> dict:
        return {
            "name": f"{name}_x",
            "description": "",
            "test_metadata": {"name": name, "kwargs": kwargs},
            "config": {"severity": "ERROR"},
        }

    relation = describe_test(
        test("relationships", column_name="carrier", to="ref('dim_airlines')", field="carrier")
    )
    assert relation.startswith("Every non-null `carrier` exists in `dim_airlines.carrier`.")
    assert relation.endswith("Blocking: a failure stops the assets downstream.")
    warn = {**test("not_null", column_name="dest"), "config": {"severity": "warn"}}
    assert describe_test(warn) == "`dest` is never null. Warns only."
    singular = {"name": "assert_x", "description": "Rows agree.", "config": {}}
    assert describe_test(singular).startswith("Rows agree. Blocking")


def test_metadata_figures_are_rounded_to_four_decimals():
    metadata = rounded_metadata(
        {
            "auc": 0.7049381726354,
            "numpy": np.float64(0.123456789),
            "rows": 336_776,
            "passed": True,
            "nested": {"by_month": [{"auc": 0.69981234}], "name": "x"},
            "float_value": dg.MetadataValue.float(0.333333333),
            "json": dg.MetadataValue.json({"psi": [0.1234567]}),
            "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn("a", "DOUBLE")]),
        }
    )
    assert metadata["dagster/column_schema"].columns[0].name == "a"
    assert metadata["auc"] == 0.7049 and metadata["numpy"] == 0.1235
    assert metadata["rows"] == 336_776 and metadata["passed"] is True
    assert metadata["nested"] == {"by_month": [{"auc": 0.6998}], "name": "x"}
    assert metadata["float_value"].value == 0.3333
    assert metadata["json"].data == {"psi": [0.1235]}
    assert rounded("text") == "text"


def test_roc_and_calibration_are_small_enough_to_show_inline():
    from assets.plots import (
        MARKDOWN_INLINE_LIMIT,
        calibration_svg,
        calibration_table,
        roc_svg,
        roc_table,
    )

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30_000)
    scores = {
        "LightGBM (as served)": np.clip(0.3 * y + 0.7 * rng.random(y.size), 0, 1),
        "logistic baseline": np.clip(0.1 * y + 0.9 * rng.random(y.size), 0, 1),
        "rate baseline": rng.random(y.size),
    }
    for chart in (roc_svg(y, scores), calibration_svg(y, scores)):
        # the UI renders markdown inline only below this length, else behind "[Show Markdown]"
        assert len(chart.value) < MARKDOWN_INLINE_LIMIT
        assert (
            "](<data:image/svg+xml," in chart.value and "blue: LightGBM (as served)" in chart.value
        )
    roc = roc_table(y, scores)
    assert [c.name for c in roc.schema.columns] == ["FPR", "LightGBM", "logistic", "rate"]
    assert roc.records[-1].data["FPR"] == "AUC" and roc.records[-1].data["LightGBM"] > 0.6
    calibration = calibration_table(y, scores["LightGBM (as served)"])
    assert sum(r.data["flights"] or 0 for r in calibration.records) == y.size
    assert calibration.records[-1].data["bin"] == "ECE"


def test_drift_charts_are_small_enough_to_show_inline():
    from assets.plots import MARKDOWN_INLINE_LIMIT, distribution_svg, psi_by_month_svg
    from flightline.drift_plots import DriftingFeature, feature_shares

    rng = np.random.default_rng(0)
    reference = pl.DataFrame(
        {
            "temp": rng.normal(40, 10, 20_000),
            "carrier_cat": rng.choice(list("ABCDEFGHIJKLMNOP"), 20_000),
        }
    )
    current = pl.DataFrame(
        {"temp": rng.normal(60, 10, 20_000), "carrier_cat": rng.choice(list("ABCD"), 20_000)}
    )
    labels = ("2012-01 (reference)", "2013-01")
    for feature, categorical in (("temp", False), ("carrier_cat", True)):
        bins, ref, cur = feature_shares(reference, current, feature, categorical)
        assert len(bins) == (15 if categorical else 20)
        chart = distribution_svg(DriftingFeature(feature, 3.84, bins, ref, cur), labels).value
        assert len(chart) < MARKDOWN_INLINE_LIMIT
        assert chart.startswith(f"**{feature}**, PSI 3.84") and "orange: 2013-01" in chart
    # the current month moved right: its share is in the upper bins, the reference's lower
    bins, ref, cur = feature_shares(reference, current, "temp", False)
    assert ref[:10].sum() > 0.8 and cur[10:].sum() > 0.8

    months = [f"{y}-{m:02d}" for y in (2013, 2014) for m in range(1, 13)]
    chart = psi_by_month_svg(months, list(rng.random(24)), 0.2).value
    assert len(chart) < MARKDOWN_INLINE_LIMIT and "2013-01 … 2014-12" in chart


def test_drift_bin_labels_are_plain_numbers():
    from flightline.drift_plots import feature_shares

    rng = np.random.default_rng(0)
    pressure = pl.DataFrame({"pressure": rng.normal(1015, 8, 5_000)})
    bins, _, _ = feature_shares(pressure, pressure, "pressure", False)
    assert all("e" not in b for b in bins), bins  # 1031, not 1.03e+03
    assert all(990 < float(b) < 1045 for b in bins), bins
