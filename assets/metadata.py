"""What every asset shows the same way in the UI: who owns it, and its figures rounded."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

# The one place owners are set: definitions.py applies them to every asset, dbt models included.
OWNERS = ["team:flightline"]

# Metadata figures are rounded to this many decimals: 0.7049 reads, 0.70493817263541 does not.
DIGITS = 4


def with_owners(
    assets: Iterable[dg.AssetsDefinition],
) -> list[dg.AssetsDefinition]:
    """The assets with ``OWNERS`` on every spec that has no owner of its own."""
    return list(
        dg.map_asset_specs(
            lambda spec: spec if spec.owners else spec.replace_attributes(owners=OWNERS),
            list(assets),
        )
    )


def rounded(value: Any, digits: int = DIGITS) -> Any:
    """``value`` with every float in it rounded: plain floats (numpy's too), floats inside dicts,
    lists and tuples, and float, JSON and table metadata values. Anything else is returned as is."""
    # Metadata values first: Dagster's records are tuples underneath.
    if isinstance(value, dg.FloatMetadataValue):
        return value if value.value is None else dg.MetadataValue.float(round(value.value, digits))
    if isinstance(value, dg.JsonMetadataValue):
        return dg.MetadataValue.json(rounded(value.data, digits))
    if isinstance(value, dg.TableMetadataValue):
        return dg.MetadataValue.table(
            records=[dg.TableRecord(rounded(r.data, digits)) for r in value.records],
            schema=value.schema,
        )
    if isinstance(value, dg.MetadataValue):
        return value
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, numbers.Real):
        return round(float(value), digits)
    # Plain containers only: other tuples (TableSchema, AssetKey, ...) are records, kept whole.
    if type(value) is dict:
        return {k: rounded(v, digits) for k, v in value.items()}
    if type(value) in (list, tuple):
        return [rounded(v, digits) for v in value]
    return value


def rounded_metadata(metadata: Mapping[str, Any], digits: int = DIGITS) -> dict[str, Any]:
    """Asset or check metadata with every figure rounded (see ``rounded``)."""
    return {key: rounded(v, digits) for key, v in metadata.items()}
