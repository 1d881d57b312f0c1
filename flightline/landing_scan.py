"""What is in the landing zone, for the landing sensor: complete files, their partitions, hashes.

Pure file-system logic (never the warehouse). A file is picked up when it is complete: partial
names (``*.part``, ``*.tmp``, hidden files) and files modified in the last few seconds are left
for a later tick. A path that resolves outside the zone (a symlink, ``..``) is refused.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from flightline.landing import PARTIAL_SUFFIXES, file_sha256
from flightline.raw_schemas import RAW_TABLES

SETTLE_SECONDS = 2.0  # a file written this recently may still be growing


@dataclass(frozen=True)
class LandedFile:
    table: str
    month: str | None  # 'YYYY-MM' for monthly tables, None for reference tables
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def classify(root: Path, path: Path, now: float | None = None) -> LandedFile | Skipped | None:
    """A landing file, a refusal with its reason, or None for files that are not ours."""
    name = path.name
    if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES):
        return None
    resolved = path.resolve()
    if not resolved.is_relative_to(root.resolve()):
        return Skipped(path, f"resolves outside the landing zone ({resolved})")
    table = RAW_TABLES.get(path.parent.name)
    pattern = (
        rf"{re.escape(table.name)}_(\d{{4}}-\d{{2}})\.csv"
        if table and table.monthly
        else (rf"{re.escape(table.name)}\.csv" if table else None)
    )
    match = re.fullmatch(pattern, name) if pattern else None
    if match is None:
        return Skipped(
            path, "not a landing file name (<table>/<table>_YYYY-MM.csv or <table>/<table>.csv)"
        )
    stat = resolved.stat()
    if (now or time.time()) - stat.st_mtime < SETTLE_SECONDS:
        return None  # still being written: look again next tick
    return LandedFile(
        table.name, match.group(1) if table.monthly else None, path, stat.st_size, stat.st_mtime_ns
    )


def scan(root: Path, now: float | None = None) -> tuple[list[LandedFile], list[Skipped]]:
    files, skipped = [], []
    if not root.exists():
        return files, skipped
    for path in sorted(p for p in root.glob("*/*") if p.is_file() or p.is_symlink()):
        result = classify(root, path, now)
        if isinstance(result, LandedFile):
            files.append(result)
        elif isinstance(result, Skipped):
            skipped.append(result)
    return files, skipped


def changed_files(
    files: list[LandedFile], seen: dict[str, dict]
) -> tuple[list[tuple[LandedFile, str]], dict[str, dict]]:
    """Files whose content is new since ``seen`` (the sensor cursor), with their sha256.

    A file is hashed only when its size or mtime changed, so unchanged files cost a stat.
    """
    updated, changed = dict(seen), []
    for f in files:
        key = str(f.path)
        entry = seen.get(key)
        if entry and entry["size"] == f.size and entry["mtime_ns"] == f.mtime_ns:
            continue
        digest = file_sha256(f.path)
        updated[key] = {"size": f.size, "mtime_ns": f.mtime_ns, "sha256": digest}
        if not entry or entry["sha256"] != digest:
            changed.append((f, digest))
    return changed, updated
