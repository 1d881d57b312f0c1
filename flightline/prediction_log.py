"""The prediction log: every prediction the service serves, as JSON Lines. No Dagster, no BentoML.

The service writes one request's rows with :meth:`PredictionLog.write` (one write per request)
to ``<FLIGHTLINE_HOME>/prediction_log/<UTC day>-<pid>.jsonl``: one file per day and process, so
workers never share a file; the file is kept open between writes, and each write goes out at once.

The policy: **no prediction is served unless it is logged.** ``write`` raises
:class:`PredictionLogUnavailable` and the service answers that request 503 (the client retries;
nothing is lost silently), and :meth:`PredictionLog.check` makes ``/readyz`` answer 503 while the
folder is not writable, so a load balancer routes elsewhere. :meth:`PredictionLog.append` (scripts,
tests) logs a failure and returns None instead.

:func:`read_prediction_log` reads every file back (a torn line, e.g. from a killed process, is
skipped) and :func:`join_outcomes` attaches the actual arrival (``is_delayed``) from
``marts.fct_flights`` on the flight's key (date, carrier, flight number, origin).
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import threading
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

logger = logging.getLogger(__name__)

LOG_DIR = "prediction_log"
FLAGS: dict[str, pl.DataType] = {
    "carrier_unknown": pl.Boolean(),
    "origin_unknown": pl.Boolean(),
    "dest_unknown": pl.Boolean(),
    "tailnum_unknown": pl.Boolean(),
    "weather_from_snapshot": pl.Boolean(),
    "weather_missing": pl.Boolean(),
    "state_stale_days": pl.Int32(),
    "history_incomplete": pl.Boolean(),
}
# One line of the log, as written (timestamps are ISO strings in the file).
LOG_SCHEMA: dict[str, pl.DataType] = {
    "served_at": pl.String(),
    "request_id": pl.String(),
    "flight_id": pl.String(),
    "carrier": pl.String(),
    "flight_number": pl.Int32(),
    "tailnum": pl.String(),
    "origin": pl.String(),
    "dest": pl.String(),
    "sched_dep_local": pl.String(),
    "delay_probability": pl.Float64(),
    "delayed": pl.Boolean(),
    "model_version": pl.String(),
    "bento_tag": pl.String(),
    **FLAGS,
    # The top feature contributions as a JSON string, when the request asked for them.
    "explanation": pl.String(),
}
FLIGHT_KEY = ["flight_date", "carrier", "flight_number", "origin"]


def default_log_folder() -> Path:
    """``<FLIGHTLINE_HOME>/prediction_log`` (the data folder of :mod:`flightline.settings`)."""
    from flightline.settings import paths

    return paths().home / LOG_DIR


def prediction_rows(
    flights: pl.DataFrame,
    scores: pl.DataFrame,
    *,
    model_version: str,
    bento_tag: str | None = None,
    request_id: str | None = None,
    served_at: datetime | None = None,
) -> pl.DataFrame:
    """One log row per scored flight: the request frame's flight, its score and flags.

    ``flights``: the frame passed to ``score_flights`` (``requests_frame`` or ``fct_flights``
    rows); ``scores``: its result, row for row.
    """
    if flights.height != scores.height:
        raise ValueError(f"{flights.height} flights but {scores.height} scores")
    served_at = served_at or datetime.now(UTC)
    return (
        pl.concat(
            [
                flights.select(
                    pl.col("carrier", "flight_number", "tailnum", "origin", "dest"),
                    pl.col("sched_dep_local").dt.strftime("%Y-%m-%dT%H:%M:%S"),
                ),
                scores.select("flight_id", "delay_probability", "delayed", *FLAGS),
                pl.DataFrame(
                    {"explanation": [json.dumps(e) for e in scores["explanation"].to_list()]}
                    if "explanation" in scores.columns
                    else {"explanation": [None] * scores.height},
                    schema={"explanation": pl.String},
                ),
            ],
            how="horizontal",
        )
        .select(
            pl.lit(served_at.astimezone(UTC).isoformat()).alias("served_at"),
            pl.lit(request_id or uuid.uuid4().hex).alias("request_id"),
            pl.lit(model_version).alias("model_version"),
            pl.lit(bento_tag, dtype=pl.String).alias("bento_tag"),
            pl.all(),
        )
        .select([pl.col(c).cast(t) for c, t in LOG_SCHEMA.items()])
    )


class PredictionLogUnavailable(RuntimeError):
    """The prediction log could not be written (disk full, permissions, a missing mount)."""


class PredictionLog:
    """Appends to ``<folder>/<UTC day>-<pid>.jsonl``; thread-safe.

    The day's file is kept open between writes (opening, creating if missing and closing it
    cost ~30x the append and flush itself); it is reopened when the day or the process
    changes, after a failed write, and when its path no longer names the open file (the
    folder was moved, removed or replaced), so such a write fails as if it had opened the path.
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_log_folder()
        self._lock = threading.Lock()
        self._file: io.FileIO | None = None
        self._file_key: tuple[date, int] | None = None  # (UTC day, pid) of the open file
        self._file_path: Path | None = None
        self._file_id: tuple[int, int] | None = None  # (device, inode) of the open file

    def path_for(self, served_at: datetime) -> Path:
        return self.folder / f"{served_at.astimezone(UTC):%Y-%m-%d}-{os.getpid()}.jsonl"

    def write(self, flights: pl.DataFrame, scores: pl.DataFrame, **kwargs) -> Path | None:
        """Log one request's predictions (kwargs: see :func:`prediction_rows`).

        Returns the file (None for no rows); raises :class:`PredictionLogUnavailable`.
        """
        kwargs.setdefault("served_at", datetime.now(UTC))
        rows = prediction_rows(flights, scores, **kwargs)  # a bad frame is a bug: raise it as is
        if rows.height == 0:
            return None
        data = rows.write_ndjson().encode()
        if not data.endswith(b"\n"):
            data += b"\n"
        return self.write_lines(data, kwargs["served_at"])

    def write_lines(self, data: bytes, served_at: datetime) -> Path:
        """Append ready JSON Lines (``LOG_SCHEMA``, each ending in a newline) to the file of
        ``served_at`` and flush it; raises :class:`PredictionLogUnavailable`."""
        with self._lock:
            key = (served_at.astimezone(UTC).date(), os.getpid())
            path = self._file_path if key == self._file_key else self.path_for(served_at)
            try:
                f = self._open(key, path)
                view = memoryview(data)
                while view:  # unbuffered: nothing of a failed write is left to go out later
                    written = f.write(view)
                    if not written:
                        raise OSError(errno.EIO, "nothing written")
                    view = view[written:]
            except OSError as exc:
                self._close()  # the next write starts from a fresh open
                raise PredictionLogUnavailable(
                    f"prediction log {path} cannot be written ({exc.strerror or exc})"
                ) from exc
        return path

    def _open(self, key: tuple[date, int], path: Path) -> io.FileIO:
        """The open file of ``path``, (re)opened unless the open one is still what it names."""
        if self._file is not None and key == self._file_key:
            try:
                st = os.stat(self._file_path)
            except OSError:
                st = None
            if st is not None and (st.st_dev, st.st_ino) == self._file_id:
                return self._file
        self._close()
        path.parent.mkdir(parents=True, exist_ok=True)
        f = path.open("ab", buffering=0)
        try:
            st = os.fstat(f.fileno())
        except OSError:
            f.close()
            raise
        self._file, self._file_key, self._file_path = f, key, path
        self._file_id = (st.st_dev, st.st_ino)
        return f

    def _close(self) -> None:
        f, self._file, self._file_key = self._file, None, None
        if f is not None:
            with contextlib.suppress(OSError):  # unbuffered: no lines of a request are lost here
                f.close()

    def close(self) -> None:
        """Close the open file (a later write opens it again)."""
        with self._lock:
            self._close()

    def append(self, flights: pl.DataFrame, scores: pl.DataFrame, **kwargs) -> Path | None:
        """:meth:`write`, but a failure is logged and gives None (scripts, tests)."""
        try:
            return self.write(flights, scores, **kwargs)
        except Exception:
            logger.exception("prediction log: could not append %d rows", scores.height)
            return None

    def check(self) -> str | None:
        """None if the log folder is writable now, else why not (for the readiness probe)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"prediction log {self.folder} cannot be created ({exc.strerror or exc})"
        if not os.access(self.folder, os.W_OK | os.X_OK):
            return f"prediction log {self.folder} is not writable"
        return None


def _read_file(path: Path) -> pl.DataFrame:
    data = path.read_bytes()
    try:
        return pl.read_ndjson(io.BytesIO(data), schema=LOG_SCHEMA)
    except Exception:  # a torn line (killed mid-write): keep the lines that parse
        good, bad = [], 0
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if isinstance(record, dict):
                    good.append(record)
                    continue
            except ValueError:
                pass
            bad += 1
        logger.warning("prediction log %s: skipped %d unreadable line(s)", path, bad)
        return pl.DataFrame(good, schema=LOG_SCHEMA, strict=False)


def read_prediction_log(folder: str | Path) -> pl.DataFrame:
    """Every logged prediction under ``folder`` (``*.jsonl``), oldest file first.

    ``served_at`` is a UTC datetime, ``sched_dep_local`` a naive New York local datetime; an
    absent or empty folder gives an empty frame with the same columns.
    """
    files = sorted(Path(folder).glob("*.jsonl")) if Path(folder).is_dir() else []
    frames = [_read_file(f) for f in files]
    log = pl.concat(frames) if frames else pl.DataFrame(schema=LOG_SCHEMA)
    return log.with_columns(
        pl.col("served_at").str.to_datetime(time_zone="UTC", time_unit="us"),
        pl.col("sched_dep_local").str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us"),
    )


def join_outcomes(log: pl.DataFrame, flights: pl.DataFrame) -> pl.DataFrame:
    """``log`` with ``flight_date`` and ``is_delayed`` (null until the flight has landed).

    ``flights``: ``fct_flights`` rows with ``flight_date``, ``carrier``, ``flight_number``,
    ``origin`` and ``is_delayed`` (null for cancelled or diverted flights). The log's flight date
    is the local date of ``sched_dep_local``. Every log row is kept, in order, exactly once.
    """
    outcomes = flights.select(
        pl.col("flight_date").cast(pl.Date),
        pl.col("carrier").cast(pl.String),
        pl.col("flight_number").cast(pl.Int32),
        pl.col("origin").cast(pl.String),
        pl.col("is_delayed").cast(pl.Boolean),
    ).unique(subset=FLIGHT_KEY, keep="first")
    return log.with_columns(pl.col("sched_dep_local").dt.date().alias("flight_date")).join(
        outcomes, on=FLIGHT_KEY, how="left", maintain_order="left"
    )
