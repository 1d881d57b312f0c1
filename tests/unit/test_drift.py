"""PSI per feature, the drift summary and the drift reference month."""

import math

import numpy as np
import polars as pl
import pytest

from flightline.drift import EPSILON, drift_reference, drift_summary, feature_psi, psi


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


def test_psi_is_zero_for_identical_and_small_for_same_distribution(rng):
    x = rng.normal(size=20_000)
    assert psi(x, x) == 0.0
    assert psi(x, rng.normal(size=20_000)) < 0.01
    assert psi(x, x[::-1].copy()) == 0.0  # order does not matter


def test_psi_grows_with_the_shift(rng):
    x, y = rng.normal(size=20_000), rng.normal(size=20_000)
    small, half, full = psi(x, y + 0.1), psi(x, y + 0.5), psi(x, y + 1.0)
    assert small < 0.1 < 0.2 < half < full
    assert psi(x, y * 2) > 0.2  # a wider spread drifts as well


def test_psi_bins_are_reference_quantiles(rng):
    x = rng.uniform(size=10_000)
    # All of the current sample in the reference's top decile: shares 0.1 vs ~1 there.
    top = rng.uniform(0.95, 1.0, size=1_000)
    expected = (1 - 0.1) * math.log(1 / 0.1) + 9 * (EPSILON - 0.1) * math.log(EPSILON / 0.1)
    assert psi(x, top) == pytest.approx(expected, rel=0.05)


def test_missing_values_are_their_own_bin(rng):
    x = rng.normal(size=10_000)
    with_nan = x.copy()
    with_nan[:1_000] = np.nan
    more_nan = x.copy()
    more_nan[:5_000] = np.nan
    assert psi(with_nan, with_nan) == 0.0
    # Same values, only missingness rises from 10% to 50%: drift.
    assert psi(with_nan, more_nan) > 0.2
    # NaN in the current sample that the reference never had is still counted.
    assert psi(x, more_nan) > 1.0
    # All missing on both sides: nothing to compare, no drift.
    assert psi(np.full(10, np.nan), np.full(5, np.nan)) == 0.0


def test_few_distinct_values_are_binned_by_value():
    flags = np.array([0] * 90 + [1] * 10)
    half = np.array([0] * 50 + [1] * 50)
    exact = (0.5 - 0.9) * math.log(0.5 / 0.9) + (0.5 - 0.1) * math.log(0.5 / 0.1)
    assert psi(flags, half) == pytest.approx(exact, rel=1e-3)
    # Integer codes: a shift between neighbouring codes is seen even when deciles would merge them.
    hours = np.repeat(np.arange(5, 24), 100)
    later = np.repeat(np.arange(6, 24), 100)  # no 5 am departures any more
    assert psi(hours, hours) == 0.0
    e, a = 1 / 19, 1 / 18
    gone = (EPSILON - e) * math.log(EPSILON / e) + 18 * (a - e) * math.log(a / e)
    assert psi(hours, later) == pytest.approx(gone, rel=0.01)  # one code gone: large drift
    # A value between reference values falls in the interval above it, not in a new category.
    visib = np.array([10.0] * 80 + [5.0] * 10 + [1.0] * 10)
    assert psi(visib, np.array([10.0] * 80 + [4.0] * 10 + [1.0] * 10)) == 0.0
    assert psi(np.array([True, False] * 50), np.array([True] * 100)) > 1.0


def test_categorical_strings_and_unseen_categories():
    ref = np.array(["AA", "B6", "EV", "UA"] * 250, dtype=object)
    assert psi(ref, ref.copy()) == 0.0
    same_mix = np.array(["UA", "EV", "B6", "AA"] * 100, dtype=object)
    assert psi(ref, same_mix) == pytest.approx(0.0, abs=1e-12)
    assert psi(ref, np.array(["AA"] * 700 + ["B6"] * 300, dtype=object)) > 0.5
    # A carrier the reference never saw lands in the 'other' bin; None is missing.
    new = np.array(["AA", "B6", "EV", "UA"] * 200 + ["WN"] * 200, dtype=object)
    assert psi(ref, new) > 0.2
    assert psi(ref, np.array(["AA", None] * 500, dtype=object)) > 1.0


def test_psi_rejects_empty_samples_and_bad_bins():
    with pytest.raises(ValueError, match="expected"):
        psi(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError, match="actual"):
        psi(np.array([1.0]), np.array([]))
    with pytest.raises(ValueError, match="bins"):
        psi(np.array([1.0]), np.array([1.0]), bins=1)


def with_nulls(values: np.ndarray, mask: np.ndarray) -> pl.Series:
    return pl.Series(np.where(mask, np.nan, values)).fill_nan(None)  # polars nulls, not NaN


def test_feature_psi_ranks_features_and_handles_types(rng):
    n = 5_000
    reference = pl.DataFrame(
        {
            "stable": rng.normal(size=n),
            "shifted": rng.normal(size=n),
            "carrier": rng.choice(["AA", "B6", "EV"], size=n),
            "weekend": rng.random(n) < 0.3,
            "gusts": with_nulls(rng.normal(size=n), rng.random(n) < 0.5),
        }
    )
    current = pl.DataFrame(
        {
            "stable": rng.normal(size=n),
            "shifted": rng.normal(size=n) + 1.0,
            "carrier": rng.choice(["AA", "B6", "EV"], size=n, p=[0.6, 0.2, 0.2]),
            "weekend": rng.random(n) < 0.3,
            "gusts": with_nulls(rng.normal(size=n), rng.random(n) < 0.9),
        }
    )
    table = feature_psi(reference, current, ["stable", "shifted", "carrier", "weekend", "gusts"])
    assert table.columns == ["feature", "psi"]
    assert table["psi"].is_sorted(descending=True)
    values = dict(table.iter_rows())
    assert values["shifted"] > 0.2 and values["gusts"] > 0.2 and values["carrier"] > 0.1
    assert values["stable"] < 0.02 and values["weekend"] < 0.02
    assert table["feature"][0] == "shifted"


def test_feature_psi_names_missing_columns():
    df = pl.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"reference has no column\(s\) \['b'\]"):
        feature_psi(df, df.with_columns(b=pl.lit(1)), ["a", "b"])
    with pytest.raises(ValueError, match=r"current has no column\(s\) \['b'\]"):
        feature_psi(df.with_columns(b=pl.lit(1)), df, ["b"])


def test_drift_summary():
    table = pl.DataFrame(
        {
            "feature": ["a", "b", "c", "d", "e", "f", "g"],
            "psi": [0.01, 0.5, 0.25, 0.2, 0.3, 0.0, 0.1],
        }
    )
    summary = drift_summary(table)
    assert summary["max_psi"] == 0.5 and summary["max_feature"] == "b"
    assert summary["drifting"] == ["b", "e", "c"]  # strictly above 0.2, largest first
    assert summary["n_drifting"] == 3 and summary["n_features"] == 7
    assert [r["feature"] for r in summary["top"]] == ["b", "e", "c", "d", "g"]
    assert drift_summary(table, threshold=0.4)["drifting"] == ["b"]
    empty = drift_summary(pl.DataFrame(schema={"feature": pl.String, "psi": pl.Float64}))
    assert empty["max_psi"] is None and empty["drifting"] == [] and empty["top"] == []


def test_drift_reference_prefers_the_same_month_a_year_earlier():
    landed = ["2013-01", "2013-02", "2013-03", "2014-01", "2014-02"]
    ref = drift_reference("2014-02", landed, lookback_days=28)
    assert (ref.month, ref.kind, ref.aggregates_comparable) == ("2013-02", "year_earlier", True)
    # January 2013 opens the data: its rolling aggregates had no history to look back on
    ref = drift_reference("2014-01", landed, lookback_days=28)
    assert (ref.month, ref.kind, ref.aggregates_comparable) == ("2013-01", "year_earlier", False)
    # the first year: the previous landed month, never with aggregates
    ref = drift_reference("2013-03", landed, lookback_days=28)
    assert (ref.month, ref.kind, ref.aggregates_comparable) == ("2013-02", "previous_month", False)
    assert "previous month" in ref.describe()
    assert drift_reference("2013-01", landed, lookback_days=28) is None


def test_categorical_codes_are_binned_by_value():
    # integer codes of destinations; the current month flies to 10% new destinations
    reference = pl.DataFrame({"dest_cat": np.arange(100_000) % 100})
    current = pl.DataFrame(
        {"dest_cat": np.where(np.arange(100_000) % 10 == 0, 150, np.arange(100_000) % 100)}
    )
    as_numbers = feature_psi(reference, current, ["dest_cat"])["psi"][0]
    as_categories = feature_psi(reference, current, ["dest_cat"], categorical=["dest_cat"])["psi"][
        0
    ]
    assert as_categories > 0.5 > 0.2 > as_numbers  # the new codes hide in a quantile bin's tail
