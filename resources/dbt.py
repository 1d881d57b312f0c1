"""The dbt project as Dagster sees it, with a manifest that matches the project's files.

The manifest is prepared (``dbt parse``) only when the project changed: a fingerprint of every
file dbt reads (models, macros, tests, YAML, ``dbt_project.yml``, ``profiles.yml``), the
warehouse kind and the dbt version is kept next to it, and an import whose fingerprint matches
never starts dbt. On a fresh checkout, or after an edit to the project, the first import of this
module (``flightline run``, ``make ui``, the tests, CI) parses once; ``dagster dev`` no longer
parses on every reload of the code location.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from flightline import settings

# What dbt writes, not reads: never a reason to parse again. `.user.yml` is the user id a `dbt`
# run by hand with `--profiles-dir .` leaves in the project.
GENERATED = ("target", "dbt_packages", "logs", ".user.yml")
FINGERPRINT_FILE = "manifest.fingerprint"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def project_fingerprint(project_dir: Path, warehouse_kind: str) -> str:
    """sha256 over the paths and bytes of the files dbt parses, the warehouse kind (the profile's
    target) and the dbt version: equal fingerprints give equal manifests."""
    digest = hashlib.sha256(f"{warehouse_kind}\0{version('dbt-core')}\0".encode())
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or relative.parts[0].startswith(GENERATED):
            continue
        digest.update(f"{relative.as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def manifest_is_current(project: DbtProject, fingerprint: str) -> bool:
    stamp = project.manifest_path.parent / FINGERPRINT_FILE
    return (
        project.manifest_path.exists()
        and stamp.exists()
        and stamp.read_text().strip() == fingerprint
    )


def prepare_manifest(project: DbtProject, warehouse_kind: str) -> bool:
    """Parse the project unless its manifest matches the project's files; True when it parsed.

    Two processes started at once on a stale manifest: one parses, the other waits for the lock
    and finds the manifest current.
    """
    fingerprint = project_fingerprint(project.project_dir, warehouse_kind)
    if manifest_is_current(project, fingerprint):
        return False
    target = project.manifest_path.parent
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_current(project, fingerprint):
            return False
        # The profile reads FLIGHTLINE_DUCKDB_PATH (and the lake's settings): dbt needs them.
        settings.export_environment()
        project.preparer.prepare(project)
        (target / FINGERPRINT_FILE).write_text(fingerprint + "\n")
    return True


class DbtCli(DbtCliResource):
    """dbt as a subprocess, without the two things dagster-dbt does before each invocation that the
    assets do not use: a ``dbt --version`` subprocess (a whole dbt start-up) to learn the version
    of the dbt on PATH, which is this environment's dbt-core, and a dbt adapter opened in this
    process, which serves only column metadata and row counts the assets do not fetch.

    :meth:`build` also starts each invocation from the parse of the previous one on the same
    warehouse: dagster-dbt starts every invocation from ``target/partial_parse.msgpack``, which
    ``dbt parse`` wrote for whatever warehouse path was set then, and dbt re-parses the whole
    project when the profile it renders (the DuckDB path) differs: ~2.5 s of CPU per invocation.
    And it does not write each invocation's ``manifest.json`` and ``run_results.json``: the
    results reach Dagster through dbt's log lines (the asset checks hold them), the compiled SQL
    is still written, and writing the manifest cost ~0.5 s per invocation.
    """

    def build(
        self, context: AssetExecutionContext, env: Mapping[str, str] | None = None
    ) -> Iterator[object]:
        """``dbt build`` of the context's selection, with ``env`` added to dbt's environment;
        yields its Dagster events."""
        # dagster-dbt's target paths are relative to the project (dbt's working directory).
        target_path = Path(self.project_dir) / self._get_unique_target_path(context=context)
        saved = saved_parse_path(Path(self.project_dir))
        if saved.exists():  # dagster-dbt copies target/partial_parse.msgpack only when absent
            target_path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(saved, target_path / PARTIAL_PARSE_FILE)
        with added_environment(env or {}):
            invocation = self.cli(
                ["build", "--no-write-json"], context=context, target_path=target_path
            )
        yield from invocation.stream()
        replace_atomically(target_path / PARTIAL_PARSE_FILE, saved)

    @property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: object) -> None:
        return None


def profile_settings(project_dir: Path) -> list[str]:
    """The environment variables profiles.yml reads."""
    return sorted(set(re.findall(r"env_var\('(\w+)'", (project_dir / "profiles.yml").read_text())))


def saved_parse_path(project_dir: Path) -> Path:
    """Where the last parse on this warehouse is kept: one file per value of the settings the
    profile reads (a data folder, a test's DuckDB file, the lake)."""
    values = "\0".join(
        f"{name}={os.environ.get(name, '')}" for name in profile_settings(project_dir)
    )
    key = hashlib.sha256(values.encode()).hexdigest()[:16]
    return project_dir / "target" / "partial_parse" / f"{key}.msgpack"


def replace_atomically(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` (if it exists) in one step: another process may be
    reading it."""
    if source.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.{os.getpid()}")
        shutil.copyfile(source, staged)
        os.replace(staged, target)


@contextmanager
def added_environment(env: Mapping[str, str]) -> Iterator[None]:
    """``env`` in os.environ while the block runs (dagster-dbt gives dbt this process's environment)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# The lake gets a target folder of its own: dbt keeps its partial parse only while the profile is
# unchanged, so one folder per warehouse spares each dbt run a full parse on the lake.
dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    target_path="target" if settings.warehouse_kind() == "duckdb" else "target-ducklake",
)
prepare_manifest(dbt_project, settings.warehouse_kind())
