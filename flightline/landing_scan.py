"""What is in the landing zone, for the landing sensor: complete files, their partitions, hashes.

Pure file-system logic (never the warehouse, never Dagster). Nothing in the zone can make a scan
fail: every entry is a landing file, a refusal with its reason, a file still waiting to be
complete, or something that is not ours (partial and hidden names, markers).

When is a file complete? Producers use one of two conventions (README, "Landing files"):

* **atomic rename**: write ``flights_2014-01.csv.part`` (or ``.tmp``, or a hidden name) and rename
  it to ``flights_2014-01.csv`` when done (``flightline land`` does this);
* **done marker**: write ``flights_2014-01.csv`` in place, then create an empty
  ``flights_2014-01.csv.done``. A file is complete when its marker is at least as new as the file.
  Once a table folder holds any marker, every file in it waits for its own marker.

A file with neither is complete once it has not been modified for ``SETTLE_SECONDS`` (by the
clock the caller passes): the fallback for producers that follow neither convention.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from flightline.landing import PARTIAL_SUFFIXES, file_sha256
from flightline.months import MONTH_RE
from flightline.raw_schemas import RAW_TABLES

SETTLE_SECONDS = 60.0  # fallback: an unmarked file untouched this long is complete
DONE_SUFFIX = ".done"
# A tick hashes at most this much; the rest waits for the next tick, so a zone with thousands
# of new files never makes a tick slow (the sensor's evaluation has a time limit).
MAX_HASH_FILES_PER_TICK = 200
MAX_HASH_BYTES_PER_TICK = 1 << 30
# The cursor keeps this many hex digits of each file's sha256 (64 bits): enough to tell a file's
# new content from its old, and a quarter of the size. Run keys carry the full hash.
CURSOR_HASH_CHARS = 16


@dataclass(frozen=True)
class LandedFile:
    table: str
    month: str | None  # 'YYYY-MM' for monthly tables, None for reference tables
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    """Refused: it will not be ingested as it is (a bad name, outside the zone, unreadable)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Waiting:
    """Not complete yet: looked at again next tick."""

    path: Path
    reason: str


@dataclass
class Scan:
    files: list[LandedFile]
    skipped: list[Skipped]
    waiting: list[Waiting]


def _month_problem(month: str, months: tuple[str, str] | None) -> str | None:
    m = MONTH_RE.match(month)
    if not m or not 1 <= int(m.group(2)) <= 12:
        return f"month {month} does not exist"
    if months is None:
        return None
    first, last = months
    if month < first:
        return f"month {month} is before the first partition ({first})"
    if month > last:
        return (
            f"month {month} is after the last partition ({last}): a month gets its partition "
            "once it has ended"
        )
    return None


def classify(
    root: Path,
    folder_inside: bool,
    entry: os.DirEntry,
    markers: set[str],
    now: float,
    months: tuple[str, str] | None,
) -> LandedFile | Skipped | Waiting | None:
    """One entry of a table folder. May raise OSError (the caller turns it into a refusal)."""
    name, path = entry.name, Path(entry.path)
    if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES) or name.endswith(DONE_SUFFIX):
        return None
    table = RAW_TABLES[path.parent.name]
    if table.monthly:
        match = re.fullmatch(rf"{re.escape(table.name)}_(\d{{4}}-\d{{2}})\.csv", name)
        expected = f"{table.name}_YYYY-MM.csv"
    else:
        match = re.fullmatch(rf"{re.escape(table.name)}\.csv", name)
        expected = f"{table.name}.csv"
    if match is None:
        return Skipped(path, f"not a landing file name (expected {expected})")
    month = match.group(1) if table.monthly else None
    problem = _month_problem(month, months) if month else None
    if problem:
        return Skipped(path, problem)
    if entry.is_symlink() or not folder_inside:
        try:
            resolved = path.resolve(strict=True)
        except FileNotFoundError:
            return Skipped(path, "dangling symlink: its target does not exist")
        if not resolved.is_relative_to(root.resolve()):
            return Skipped(path, f"resolves outside the landing zone ({resolved})")
    stat = entry.stat()  # follows a symlink
    if not entry.is_file():
        return Skipped(path, "not a regular file")
    if name in markers:
        marker = os.stat(path.with_name(name + DONE_SUFFIX))
        if marker.st_mtime_ns < stat.st_mtime_ns:
            return Waiting(path, f"modified after its {DONE_SUFFIX} marker: waiting for a new one")
    elif markers:
        return Waiting(path, f"waiting for {name}{DONE_SUFFIX} (this folder uses markers)")
    elif now - stat.st_mtime < SETTLE_SECONDS:
        return Waiting(
            path,
            f"modified {max(now - stat.st_mtime, 0):.0f}s ago: waiting until untouched for "
            f"{SETTLE_SECONDS:.0f}s (or for a {DONE_SUFFIX} marker)",
        )
    return LandedFile(table.name, month, path, stat.st_size, stat.st_mtime_ns)


def scan(root: Path, now: float, months: tuple[str, str] | None = None) -> Scan:
    """Every entry of the zone's table folders, classified. ``now`` is the caller's clock
    (seconds since the epoch); ``months`` the first and last partition ('YYYY-MM')."""
    result = Scan([], [], [])
    try:
        folders = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return result  # no zone yet
    for folder in folders:
        if folder.name.startswith("."):
            continue
        try:
            if folder.name not in RAW_TABLES or not folder.is_dir():
                result.skipped.append(
                    Skipped(Path(folder.path), f"not a table folder (expected {list(RAW_TABLES)})")
                )
                continue
            inside = Path(folder.path).resolve(strict=True).is_relative_to(root.resolve())
            entries = sorted(os.scandir(folder.path), key=lambda e: e.name)
        except (OSError, RuntimeError) as e:
            reason = f"cannot read: {getattr(e, 'strerror', 0) or e}"
            result.skipped.append(Skipped(Path(folder.path), reason))
            continue
        markers = {e.name[: -len(DONE_SUFFIX)] for e in entries if e.name.endswith(DONE_SUFFIX)}
        for entry in entries:
            try:
                found = classify(root, inside, entry, markers, now, months)
            except (OSError, RuntimeError) as e:  # vanished, unreadable, a symlink loop
                found = Skipped(Path(entry.path), f"cannot read: {getattr(e, 'strerror', 0) or e}")
            if isinstance(found, LandedFile):
                result.files.append(found)
            elif isinstance(found, Skipped):
                result.skipped.append(found)
            elif isinstance(found, Waiting):
                result.waiting.append(found)
    return result


def changed_files(
    files: list[LandedFile], seen: dict[str, list], root: Path
) -> tuple[list[tuple[LandedFile, str]], dict[str, list], list[Skipped]]:
    """Files whose content is new since ``seen`` (the sensor cursor: relative path -> [size,
    mtime_ns, sha256 prefix]), with their full sha256, the updated cursor, and files that could
    not be read.

    A file is hashed only when its size or mtime changed, so unchanged files cost a stat; at
    most ``MAX_HASH_FILES_PER_TICK`` files (``MAX_HASH_BYTES_PER_TICK`` bytes) are hashed per
    call, the rest are left out of the cursor for the next call.
    """
    present = {str(f.path.relative_to(root)) for f in files}
    updated = {k: v for k, v in seen.items() if k in present}  # forget files that are gone
    changed, unreadable = [], []
    hashed = hashed_bytes = 0
    for f in files:
        key = str(f.path.relative_to(root))
        entry = seen.get(key)
        if entry and entry[0] == f.size and entry[1] == f.mtime_ns:
            continue
        if hashed >= MAX_HASH_FILES_PER_TICK or hashed_bytes >= MAX_HASH_BYTES_PER_TICK:
            continue  # next tick
        try:
            digest = file_sha256(f.path)
        except OSError as e:
            unreadable.append(Skipped(f.path, f"cannot read: {e.strerror or e}"))
            continue
        hashed, hashed_bytes = hashed + 1, hashed_bytes + f.size
        updated[key] = [f.size, f.mtime_ns, digest[:CURSOR_HASH_CHARS]]
        if not entry or entry[2] != digest[:CURSOR_HASH_CHARS]:
            changed.append((f, digest))
    return changed, updated, unreadable
