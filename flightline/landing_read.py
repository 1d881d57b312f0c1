"""Reading a landing file: recognise what it is, decode it line by line, stage its rows as text.

A landing file is UTF-8, comma-separated text with a header line and one record per line (a
quoted value may hold commas and quotes, not line breaks). What breaks that contract for the
whole file (compressed or binary data, another encoding or delimiter, no header) fails the file
with a message that says which. What breaks it for one line (a truncated line, too many fields,
bytes that are not UTF-8, an unterminated quote) rejects that line alone, with its line number:
the line checks run in Python before DuckDB parses anything, so no line can swallow the next one
and no row is ever dropped without a reason.
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from flightline.raw_schemas import RawTable

SNIFF_BYTES = 1 << 16
MAX_LINE_BYTES = 4 << 20  # a longer line is rejected; DuckDB's own limit is above it
COMPRESSED = {
    b"\x1f\x8b": "gzip",
    b"PK\x03\x04": "zip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
OTHER_ENCODINGS = {  # longest first: the UTF-32 marks start with the UTF-16 ones
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
UTF8_BOM = b"\xef\xbb\xbf"


class LandingFileError(ValueError):
    """A whole-file fault: the file is refused and nothing already loaded changes."""

    def __init__(self, path: Path, problem: str, column: str | None = None):
        where = f"{path}" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}")
        self.path, self.column, self.problem = path, column, problem


@dataclass
class Header:
    names: list[str]  # as written, stripped
    extra: list[str] = field(default_factory=list)  # columns the table does not have: ignored

    def stage_names(self, table: RawTable) -> list[str]:
        """The name each position is staged under: its own, or ``_extra_<n>`` when ignored."""
        seen: set[str] = set()
        out = []
        for i, name in enumerate(self.names):
            out.append(name if name in table.columns and name not in seen else f"_extra_{i + 1}")
            seen.add(name)
        return out


def sniff_header(path: Path) -> list[str]:
    """The header's column names, or a LandingFileError saying what the file is instead."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head.strip():
        raise LandingFileError(path, "file is empty: no header line")
    for magic, kind in COMPRESSED.items():
        if head.startswith(magic):
            raise LandingFileError(
                path, f"compression: the file is {kind}-compressed; land plain UTF-8 CSV text"
            )
    for mark, encoding in OTHER_ENCODINGS.items():
        if head.startswith(mark):
            raise LandingFileError(path, f"encoding: the file is {encoding} text; expected UTF-8")
    line, newline, _ = head.partition(b"\n")
    if b"\x00" in line or (not newline and len(head) == SNIFF_BYTES):
        raise LandingFileError(
            path, "not delimited text: binary data, no header line in the first 64 KiB"
        )
    try:
        first = line.removeprefix(UTF8_BOM).rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError as e:
        raise LandingFileError(
            path,
            f"encoding: the header is not UTF-8 (byte 0x{line[e.start]:02x} at offset "
            f"{e.start}); expected UTF-8 text",
        ) from e
    names = [h.strip() for h in next(csv.reader([first]), [])]
    if not any(names):
        raise LandingFileError(path, "file is empty: no header line")
    if len(names) == 1:
        for delim, what in OTHER_DELIMITERS.items():
            if delim in names[0]:
                raise LandingFileError(
                    path,
                    f"delimiter: the header is one field and looks {what}-separated; "
                    "expected comma-separated values",
                )
    return names


def check_header(table: RawTable, names: list[str], path: Path) -> Header:
    """Missing or repeated columns fail the file; unknown ones are ignored (and reported)."""
    repeated = [c for c, n in Counter(names).items() if n > 1 and c in table.columns]
    if repeated:
        raise LandingFileError(path, "column appears more than once in the header", repeated[0])
    missing = [c for c in table.columns if c not in names]
    if missing:
        raise LandingFileError(path, f"missing column (expected {list(table.columns)})", missing[0])
    extra = [
        n or f"(unnamed column {i + 1})" for i, n in enumerate(names) if n not in table.columns
    ]
    return Header(names, extra)


def _fields(text: str) -> int | None:
    """Number of CSV fields on one line, or None when its quoting is broken."""
    if '"' not in text:
        return text.count(",") + 1
    if text.count('"') % 2:
        return None
    try:  # strict: text after a closing quote is an error, as it is for DuckDB
        return len(next(csv.reader([text], strict=True)))
    except csv.Error:
        return None


def _line_fault(raw: bytes, expected: int) -> tuple[str, str | None]:
    """(reason, decoded text) for a bad line, ('', text) for a good one."""
    if len(raw) > MAX_LINE_BYTES:
        return f"row: line of {len(raw)} bytes, longer than {MAX_LINE_BYTES}", None
    if b"\x00" in raw:
        return "encoding: NUL byte (binary data)", None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"encoding: not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})", None
    n = _fields(text)
    if n is None:
        return "row: unterminated or misplaced quote", text
    if n != expected:
        more = "more" if n > expected else "fewer"
        hint = "" if n > expected else "; truncated?"
        return f"row: {n} fields, {more} than the header's {expected}{hint}", text
    return "", text


@dataclass
class StagedFile:
    data_lines: int  # non-blank lines after the header
    extra_columns: list[str]


def _clean_rows(
    path: Path, expected: int, out: Path
) -> tuple[int, list[tuple[int, str, str | None]]]:
    """Write the data lines of ``path`` that are rows to ``out``, each with its line number as
    its first field; return the number of data lines and the lines that are not rows
    (line number, reason, text)."""
    rejects: list[tuple[int, str, str | None]] = []
    data_lines = 0
    with path.open("rb") as src, out.open("wb") as clean:
        src.readline()  # the header, already checked
        for number, raw in enumerate(src, start=2):
            raw = raw.rstrip(b"\r\n")
            if not raw:
                continue  # a blank line is not a row
            data_lines += 1
            reason, text = _line_fault(raw, expected)
            if reason:
                shown = text if text is not None else raw.decode("utf-8", "backslashreplace")
                rejects.append((number, reason, shown[:10_000]))
                continue
            # The line number travels with the row as its first field.
            clean.write(b"%d," % number + raw + b"\n")
    return data_lines, rejects


def _read_rows(
    conn: duckdb.DuckDBPyConnection,
    table: RawTable,
    names: Sequence[str],
    files: list[tuple[int, Path, Path]],
) -> None:
    """Append to ``_stage`` the rows of cleaned files that share the stage column ``names``:
    ``(index, cleaned file, landing file)``, read in one pass."""
    types = {"_line": "BIGINT", **{n: "VARCHAR" for n in names}}
    columns = ", ".join(f"{q(n)}: '{t}'" for n, t in types.items())
    known = ", ".join(q(c) for c in ["_line", *table.columns])
    cleaned = [str(c) for _, c, _ in files]
    try:
        conn.execute(
            f"INSERT INTO _stage SELECT m._file, {known} FROM read_csv(?, "
            f"header = false, auto_detect = false, columns = {{{columns}}}, "
            "nullstr = ['NA', ''], delim = ',', quote = '\"', escape = '\"', "
            f"strict_mode = true, parallel = false, compression = 'none', filename = true, "
            f"max_line_size = {MAX_LINE_BYTES + 64}) "
            "JOIN (SELECT unnest(?) AS filename, unnest(?) AS _file) m USING (filename)",
            [cleaned, cleaned, [i for i, _, _ in files]],
        )
    except duckdb.Error as e:  # every line was checked: this is a reader limit
        if len(files) > 1:  # one of them: find which
            for one in files:
                _read_rows(conn, table, names, [one])
        raise LandingFileError(
            files[0][2], f"not a readable CSV file: {str(e).splitlines()[0]}"
        ) from e


def stage_files(
    conn: duckdb.DuckDBPyConnection, table: RawTable, files: Sequence[tuple[Path, Header]]
) -> list[StagedFile]:
    """Stage ``(path, header)`` files into temp tables, each row tagged with its file's index
    ``_file``: ``_stage`` (``_line`` and every table column as text) and ``_line_rejects``
    (``_line``, ``_reason``, ``_raw_line``) for lines that are not a row. Files whose headers
    put the columns in the same places are read by one ``read_csv``."""
    text = ", ".join(f"{q(c)} VARCHAR" for c in table.columns)
    conn.execute(f"CREATE OR REPLACE TEMP TABLE _stage (_file INTEGER, _line BIGINT, {text})")
    staged: list[StagedFile] = []
    rejects: list[tuple[int, int, str, str | None]] = []
    layouts: dict[tuple[str, ...], list[tuple[int, Path, Path]]] = {}
    with tempfile.TemporaryDirectory(prefix="flightline-stage-") as tmp:
        for i, (path, header) in enumerate(files):
            clean = Path(tmp) / f"{i}.csv"
            data_lines, bad = _clean_rows(path, len(header.names), clean)
            rejects += [(i, *r) for r in bad]
            staged.append(StagedFile(data_lines=data_lines, extra_columns=header.extra))
            layouts.setdefault(tuple(header.stage_names(table)), []).append((i, clean, path))
        for names, group in layouts.items():
            _read_rows(conn, table, names, group)
    reject_table = pa.table(
        {
            "_file": pa.array([r[0] for r in rejects], pa.int32()),
            "_line": pa.array([r[1] for r in rejects], pa.int64()),
            "_reason": pa.array([r[2] for r in rejects], pa.string()),
            "_raw_line": pa.array([r[3] for r in rejects], pa.string()),
        }
    )
    conn.register("_line_rejects_view", reject_table)
    conn.execute("CREATE OR REPLACE TEMP TABLE _line_rejects AS SELECT * FROM _line_rejects_view")
    conn.unregister("_line_rejects_view")
    return staged


def q(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
