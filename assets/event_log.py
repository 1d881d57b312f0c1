"""What Dagster's event log says about an asset's latest materialization (no warehouse access)."""

import dagster as dg


def latest_record(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> dg.EventLogRecord | None:
    """The event-log record of the latest materialization (its ``storage_id`` orders events)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None),
        limit=1,
    ).records
    return records[0] if records else None


def latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> dg.AssetMaterialization | None:
    record = latest_record(instance, key, partition)
    return record.event_log_entry.asset_materialization if record else None


def latest_metadata(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None
) -> dict:
    """Metadata values (plain Python) of the latest materialization; {} if there is none."""
    materialization = latest_materialization(instance, key, partition)
    return {k: v.value for k, v in materialization.metadata.items()} if materialization else {}
