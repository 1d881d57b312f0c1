"""The real 2013 tables a simulated month is resampled from."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from flightline.landing import (
    read_source,
)
from flightline.raw_schemas import AIRPORTS, FLIGHTS, WEATHER

TEMPLATE_YEAR = 2013


@dataclass(frozen=True)
class Templates:
    """The real 2013 tables the simulation resamples from (read once per call)."""

    flights: pl.DataFrame  # source strings
    weather: pl.DataFrame  # source strings
    airports: pl.DataFrame  # source strings

    @property
    def carriers(self) -> list[str]:
        return sorted(self.flights["carrier"].unique().to_list())


def load_templates() -> Templates:
    return Templates(
        flights=read_source(FLIGHTS), weather=read_source(WEATHER), airports=read_source(AIRPORTS)
    )
