"""The ``routes`` knob: flights on new routes from each origin (see :mod:`.knobs`)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from flightline.synthetic.clock import hhmm_add, local_to_utc
from flightline.synthetic.knobs import KNOB_ROUTES
from flightline.synthetic.templates import Templates

# New routes (routes=z).
NEW_ROUTES_PER_ORIGIN = 4
NEW_ROUTE_MILES = (150.0, 2600.0)
US_TIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
# airports.csv has no airport type: prefer names of commercial airports, skip military fields.
COMMERCIAL_NAME_RE = r"(?i)\b(intl|international|rgnl|regional)\b"
NON_COMMERCIAL_NAME_RE = (
    r"(?i)\b(afb|aaf|arb|nas|naf|naes|mcas|air force|army|naval|heliport|seaplane)\b"
)
AIR_TIME_FIT = (18.47, 0.1261)  # minutes = a + b * miles, 2013 flights
BLOCK_TIME_FIT = (51.7, 0.1302)  # scheduled gate-to-gate minutes = a + b * miles, 2013 flights
EARTH_RADIUS_MILES = 3958.8


def new_routes(templates: Templates, seed: int = 0) -> pl.DataFrame:
    """The new routes ``routes=z`` flies for ``seed``: origin, dest, distance (miles), tzone."""
    airports = templates.airports.with_columns(
        pl.col("lat").cast(pl.Float64, strict=False), pl.col("lon").cast(pl.Float64, strict=False)
    )
    flown = templates.flights.select("origin", "dest").unique()
    origins = sorted(templates.flights["origin"].unique().to_list())
    coords = {r["faa"]: (r["lat"], r["lon"]) for r in airports.iter_rows(named=True)}
    candidates = airports.filter(
        pl.col("faa").str.contains(r"^[A-Z]{3}$"),
        pl.col("tzone").is_in(US_TIME_ZONES),
        pl.col("lat").is_not_null() & pl.col("lon").is_not_null(),
        ~pl.col("faa").is_in(origins),
    ).sort("faa")
    rng = np.random.default_rng([seed, KNOB_ROUTES])
    frames = []
    for origin in origins:
        lat0, lon0 = coords[origin]
        cand = candidates.join(
            flown.filter(pl.col("origin") == origin), left_on="faa", right_on="dest", how="anti"
        ).with_columns(
            _great_circle_miles(lat0, lon0, pl.col("lat"), pl.col("lon")).alias("distance")
        )
        cand = cand.filter(pl.col("distance").is_between(*NEW_ROUTE_MILES)).sort("faa")
        served = cand.filter(
            pl.col("name").str.contains(COMMERCIAL_NAME_RE)
            & ~pl.col("name").str.contains(NON_COMMERCIAL_NAME_RE)
        )
        if served.height >= NEW_ROUTES_PER_ORIGIN:
            cand = served
        if cand.height == 0:
            continue
        pick = np.sort(
            rng.choice(cand.height, size=min(NEW_ROUTES_PER_ORIGIN, cand.height), replace=False)
        )
        frames.append(
            cand[pick.tolist()].select(
                pl.lit(origin).alias("origin"),
                pl.col("faa").alias("dest"),
                pl.col("distance").round(0).cast(pl.Int64),
                "tzone",
            )
        )
    if not frames:
        raise ValueError("routes: no airport in airports.csv qualifies as a new destination")
    return pl.concat(frames)


def _great_circle_miles(lat0: float, lon0: float, lat: pl.Expr, lon: pl.Expr) -> pl.Expr:
    p0, l0 = math.radians(lat0), math.radians(lon0)
    p1, l1 = lat.radians(), lon.radians()
    h = ((p1 - p0) / 2).sin() ** 2 + math.cos(p0) * p1.cos() * ((l1 - l0) / 2).sin() ** 2
    return 2 * EARTH_RADIUS_MILES * h.sqrt().arcsin()


def add_route_flights(
    flights: pl.DataFrame,
    routes: pl.DataFrame,
    share: float,
    year: int,
    month: int,
    rng: np.random.Generator,
    max_template_flight: int = 0,
) -> pl.DataFrame:
    n_new = int(math.floor(share * flights.height + 0.5))
    eligible = np.flatnonzero(flights["origin"].is_in(routes["origin"].unique()).to_numpy())
    if n_new == 0 or eligible.size == 0:
        return flights
    picks = np.sort(rng.choice(eligible, size=n_new, replace=True))
    clones = flights[picks.tolist()].with_row_index("_clone")
    # A destination among the clone's origin's new routes, drawn uniformly.
    per_origin = {o: g.sort("dest") for (o,), g in routes.group_by("origin")}
    u = rng.random(n_new)
    dest, dist, tz = [], [], []
    for origin, ui in zip(clones["origin"].to_list(), u, strict=True):
        g = per_origin[origin]
        i = int(ui * g.height)
        dest.append(g["dest"][i])
        dist.append(g["distance"][i])
        tz.append(g["tzone"][i])
    clones = clones.with_columns(
        pl.Series("dest", dest, pl.String),
        pl.Series("_new_distance", dist, pl.Int64),
        pl.Series("_tzone", tz, pl.String),
    )
    a, b = AIR_TIME_FIT
    ba, bb = BLOCK_TIME_FIT
    dep_utc = local_to_utc(year, month, pl.col("hour"), pl.col("minute"))
    arr_utc = dep_utc + pl.duration(
        minutes=(ba + bb * pl.col("_new_distance")).round(0).cast(pl.Int64)
    )
    local_arr = [
        pl.when(pl.col("_tzone") == zone).then(
            arr_utc.dt.convert_time_zone(zone).dt.hour().cast(pl.Int64) * 100
            + arr_utc.dt.convert_time_zone(zone).dt.minute().cast(pl.Int64)
        )
        for zone in sorted(set(tz))
    ]
    residual = pl.col("air_time") - (a + b * pl.col("distance"))
    clones = (
        clones.with_columns(
            pl.coalesce(local_arr).alias("sched_arr_time"),
            (a + b * pl.col("_new_distance") + residual)
            .round(0)
            .cast(pl.Int64)
            .clip(lower_bound=15)
            .alias("air_time"),
        )
        .with_columns(
            pl.when(pl.col("sched_arr_time") == 0)
            .then(2400)
            .otherwise(pl.col("sched_arr_time"))
            .alias("sched_arr_time"),
            pl.col("_new_distance").alias("distance"),
        )
        .with_columns(
            # Arrival follows the copied delay; a diverted copy (no arr_delay) has no arrival.
            pl.when(pl.col("arr_delay").is_not_null())
            .then(hhmm_add("sched_arr_time", pl.col("arr_delay")))
            .otherwise(None)
            .alias("arr_time"),
        )
    )
    base = (max(int(flights["flight"].max()), max_template_flight) // 1000 + 1) * 1000
    clones = clones.sort(
        "day", "carrier", "origin", "dest", "sched_dep_time", "_clone"
    ).with_columns(
        (base + pl.int_range(pl.len()).over("day", "carrier", "origin"))
        .cast(pl.Int64)
        .alias("flight")
    )
    clones = clones.select(flights.columns)
    return pl.concat([flights, clones]).sort("day", maintain_order=True)
