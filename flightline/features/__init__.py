"""Point-in-time flight features, shared by training (Dagster assets) and serving (BentoML).

Prediction contract: the prediction for a flight on New York local day D is made at local midnight
starting D. A feature may use the schedule, the plane, the route, weather at the origin at the
scheduled hour, and aggregates over flights whose outcome was known by that moment.

The same code path serves training and serving:

* :func:`build_feature_state` turns flight history into a compact **as-of state**: daily sums per
  key (carrier, origin, dest, route, flight number, plane, carrier x origin, origin x hour,
  carrier x hour, and everything), each row keyed by ``available_from``, the first local day whose
  predictions may use it. An outcome is available from the day after the local day the flight
  arrived (``arrived_at_utc`` in New York time, + 1 day); a scheduled departure from the day after
  it was scheduled; a flight that never arrived (cancelled/diverted) from two days after its
  scheduled day (no flight departs more than 24 h late, so by then it is known). Plus lookups:
  planes, route distances, and the last observed weather per origin and day.
* :func:`flight_feature_rows` computes one feature row per input flight from a state. Every
  aggregate is a *window* (1, 7 or 28 days ending at the flight's day), never an all-history sum, so a state
  trimmed to the last ``horizon_days`` (the online snapshot, :func:`trim_state`) gives identical
  features for the days it covers.

Training builds one state from all history and computes features for every historical flight: the
``available_from`` keys guarantee that a flight on day D only sees what was known at midnight
starting D. Serving loads the snapshot written by :func:`save_state` and calls the same
:func:`flight_feature_rows` for tomorrow's flights. For a flight after the state's ``as_of`` day the
windows end at ``as_of`` day (the freshest knowledge) and ``state_stale_days`` says by how much.

The package, one idea per module: :mod:`.catalog` (which columns are features, flags, forbidden;
the aggregation keys), :mod:`.state` (the as-of state), :mod:`.aggregates` (windowed sums and
smoothed rates), :mod:`.as_of_cache` (the serving cache of aggregates at the as-of day) and
:mod:`.compute` (feature rows). Import the public names from here.
"""

from flightline.features.as_of_cache import precompute_as_of_features
from flightline.features.catalog import (
    AGG_KEYS,
    AGGREGATE_FEATURES,
    AGGREGATE_FEATURES_BY_KEY,
    CALENDAR_FEATURES,
    CATEGORICAL_FEATURES,
    CATEGORICAL_SOURCES,
    DEFAULT_CANCEL,
    DEFAULT_DELAY,
    DEFAULT_RATE,
    DELAY_CLIP,
    FEATURE_COLUMNS,
    FLAG_COLUMNS,
    FORBIDDEN_COLUMNS,
    LABEL,
    MAX_WINDOW_DAYS,
    MODEL_FEATURES,
    NY_TZ,
    PLANE_FEATURES,
    SCHEDULE_FEATURES,
    SMOOTHING_WEIGHT,
    SNAPSHOT_DAY,
    STATE_FORMAT_VERSION,
    WEATHER_COLUMNS,
    WEATHER_FEATURES,
    WEATHER_FILL_MAX_AGE_DAYS,
    AggKey,
    Vocabulary,
    build_vocabulary,
    forbidden_columns_present,
)
from flightline.features.compute import feature_matrix, flight_feature_rows, holiday_pairs
from flightline.features.state import (
    FeatureState,
    build_feature_state,
    load_state,
    prediction_moment,
    route_distances,
    save_state,
    trim_state,
)

__all__ = [
    "AGGREGATE_FEATURES",
    "AGGREGATE_FEATURES_BY_KEY",
    "AGG_KEYS",
    "CALENDAR_FEATURES",
    "CATEGORICAL_FEATURES",
    "CATEGORICAL_SOURCES",
    "DEFAULT_CANCEL",
    "DEFAULT_DELAY",
    "DEFAULT_RATE",
    "DELAY_CLIP",
    "FEATURE_COLUMNS",
    "FLAG_COLUMNS",
    "FORBIDDEN_COLUMNS",
    "LABEL",
    "MAX_WINDOW_DAYS",
    "MODEL_FEATURES",
    "NY_TZ",
    "PLANE_FEATURES",
    "SCHEDULE_FEATURES",
    "SMOOTHING_WEIGHT",
    "SNAPSHOT_DAY",
    "STATE_FORMAT_VERSION",
    "WEATHER_COLUMNS",
    "WEATHER_FEATURES",
    "WEATHER_FILL_MAX_AGE_DAYS",
    "AggKey",
    "FeatureState",
    "Vocabulary",
    "build_feature_state",
    "build_vocabulary",
    "feature_matrix",
    "flight_feature_rows",
    "forbidden_columns_present",
    "holiday_pairs",
    "load_state",
    "precompute_as_of_features",
    "prediction_moment",
    "route_distances",
    "save_state",
    "trim_state",
]
