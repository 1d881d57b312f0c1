"""The drift knobs of a simulated month: what they mean and how they are parsed.

Applied in this order; each knob draws from its own random stream, derived from ``seed`` and the
month, so a month's result does not depend on which other months or knobs are simulated with it.
Cancelled flights (no ``dep_time``) are never changed; extra delay moves ``dep_delay`` and
``dep_time`` and, where present, ``arr_delay`` and ``arr_time`` by the same minutes (a gate delay:
``air_time`` is unchanged), keeping ``dep_time = sched_dep_time + dep_delay`` and
``arr_time = sched_arr_time + arr_delay`` (HHMM clock arithmetic, midnight written 2400).

* ``weather=x`` (0..1): ``round(x * days)`` days of the month (at least one when x > 0), picked at
  random, become **storm days** at all three airports (weather is regional). Every hourly
  observation on a storm day gets ``visib * 0.25`` (10 mi -> 2.5 mi), ``precip`` + U(0.02, 0.20)
  in/h, ``wind_speed`` and ``wind_gust`` ``* 1.5 + 5`` mph (a missing gust stays missing) and
  ``pressure - 8`` mb. Every flight scheduled on a storm day that departed gets an extra delay of
  ``round(Exponential(mean 45 min))``, capped at 360.
* ``carrier:XX=y`` (0..1): of carrier XX's flights that arrived, ``round(y * n_arrived)`` flights
  that were not 15+ minutes late (chosen at random; all of them if there are fewer) get an extra
  delay of ``15 - arr_delay + round(Exponential(mean 20 min))``, so XX's share of arrived flights
  15+ minutes late rises by ``y`` (absolute, e.g. 0.20 -> 0.40 for y = 0.2). Repeatable for
  several carriers.
* ``routes=z`` (0..1): adds ``round(z * n_flights)`` flights on new routes. Four destinations per
  origin, the same every month for a given seed, are drawn from airports.csv codes (three-letter
  FAA code, a US time zone, 150..2600 miles away, never flown from that origin in 2013; names of
  commercial airports, "Intl"/"Regional", preferred over military fields). Each new
  flight copies a random flight of the month at the same origin (day, carrier, schedule, plane,
  departure outcome, arrival delay) and gets a new destination, the great-circle ``distance``, a
  ``flight`` number unique for its day, carrier and origin (counting up from the next thousand
  above 2013's highest: 9000), ``sched_arr_time`` in the destination's local time from a block
  time of ``51.7 + 0.1302 * distance`` minutes, ``air_time`` of ``18.47 + 0.1261 * distance`` plus
  the copied flight's residual (both fitted on 2013), and ``arr_time = sched_arr_time +
  arr_delay``. A copied diverted flight stays diverted (no arrival), a cancelled one cancelled.

The effects live in :mod:`flightline.synthetic.delays` (weather, carrier) and
:mod:`flightline.synthetic.routes` (new routes).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

KNOB_WEATHER, KNOB_CARRIER, KNOB_ROUTES = 1, 2, 3
_CARRIER_RE = re.compile(r"^[A-Z0-9]{2}$")


def _check_share(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name}: value must be a number between 0 and 1, got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name}={value}: value must be between 0 and 1")


@dataclass(frozen=True)
class DriftSpec:
    """What to change in simulated months; all zero (the default) is a faithful resample.

    ``weather``: share of days that become storm days. ``carriers``: carrier code -> absolute rise
    of its share of arrived flights 15+ minutes late. ``routes``: new-route flights added, as a
    share of the month's flights. See the module docstring for exactly what each does.
    """

    weather: float = 0.0
    carriers: Mapping[str, float] = field(default_factory=dict)
    routes: float = 0.0

    def __post_init__(self) -> None:
        _check_share("weather", self.weather)
        _check_share("routes", self.routes)
        carriers = {}
        for code, value in dict(self.carriers).items():
            norm = str(code).strip().upper()
            if not _CARRIER_RE.match(norm):
                raise ValueError(
                    f"carrier:{code}: carrier code must be two letters or digits, like EV or 9E"
                )
            if norm in carriers:
                raise ValueError(f"carrier:{norm} is given more than once")
            _check_share(f"carrier:{norm}", value)
            carriers[norm] = float(value)
        carriers = {c: v for c, v in carriers.items() if v > 0}  # carrier:XX=0 is no drift
        object.__setattr__(self, "weather", float(self.weather))
        object.__setattr__(self, "routes", float(self.routes))
        object.__setattr__(self, "carriers", MappingProxyType(dict(sorted(carriers.items()))))

    def __hash__(self) -> int:
        return hash(self.to_spec())

    @property
    def is_none(self) -> bool:
        return self.weather == 0 and self.routes == 0 and not any(self.carriers.values())

    def to_spec(self) -> str:
        """The canonical text form, which :func:`parse_drift` reads back ('none' for no drift)."""
        parts = [f"weather={self.weather:g}"] if self.weather else []
        parts += [f"carrier:{c}={v:g}" for c, v in self.carriers.items() if v]
        parts += [f"routes={self.routes:g}"] if self.routes else []
        return ",".join(parts) or "none"

    def __str__(self) -> str:
        return self.to_spec()


NO_DRIFT = DriftSpec()
_USAGE = "expected comma-separated knobs like 'weather=0.3,carrier:EV=0.2,routes=0.05'"


def parse_drift(text: str | None) -> DriftSpec:
    """Parse ``"weather=0.3,carrier:EV=0.2,routes=0.05"``; ``""``/``"none"`` mean no drift.

    Errors are ValueErrors that quote the offending part.
    """
    if text is None or text.strip().lower() in ("", "none"):
        return NO_DRIFT
    weather: float | None = None
    routes: float | None = None
    carriers: dict[str, float] = {}
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise ValueError(f"drift spec {text!r} has an empty part; {_USAGE}")
        if part.count("=") != 1:
            raise ValueError(f"drift spec part {part!r} is not knob=value; {_USAGE}")
        key, value_text = (s.strip() for s in part.split("="))
        try:
            value = float(value_text)
        except ValueError:
            raise ValueError(
                f"drift spec part {part!r}: {value_text!r} is not a number (use 0..1)"
            ) from None
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"drift spec part {part!r}: value must be between 0 and 1")
        lowered = key.lower()
        if lowered == "weather":
            if weather is not None:
                raise ValueError(f"drift spec part {part!r}: weather is given more than once")
            weather = value
        elif lowered == "routes":
            if routes is not None:
                raise ValueError(f"drift spec part {part!r}: routes is given more than once")
            routes = value
        elif lowered.startswith("carrier:"):
            code = key.split(":", 1)[1].strip().upper()
            if not _CARRIER_RE.match(code):
                raise ValueError(
                    f"drift spec part {part!r}: carrier code must be two letters or digits, "
                    "like EV or 9E"
                )
            if code in carriers:
                raise ValueError(
                    f"drift spec part {part!r}: carrier:{code} is given more than once"
                )
            carriers[code] = value
        else:
            raise ValueError(
                f"drift spec part {part!r}: unknown knob {key!r} "
                "(knobs: weather=x, carrier:XX=y, routes=z)"
            )
    return DriftSpec(weather=weather or 0.0, carriers=carriers, routes=routes or 0.0)
