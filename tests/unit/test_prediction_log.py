"""The prediction log: appends, reading back (torn lines, several files, types), outcome joins."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime

import polars as pl
import pytest

from flightline.prediction_log import (
    LOG_SCHEMA,
    PredictionLog,
    PredictionLogUnavailable,
    join_outcomes,
    read_prediction_log,
)
from flightline.prediction_schema import EXAMPLE_FLIGHT, Flight, requests_frame

SERVED = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


def request(n: int, first_flight: int = 1) -> pl.DataFrame:
    flights = [
        Flight.model_validate(
            {
                **EXAMPLE_FLIGHT,
                "flight_id": f"f{first_flight + i}",
                "flight": first_flight + i,
                "scheduled_departure": f"2013-03-0{1 + i % 2}T0{5 + i % 4}:15:00",
            }
        )
        for i in range(n)
    ]
    return requests_frame(flights)


def scores_for(frame: pl.DataFrame, p: float = 0.25) -> pl.DataFrame:
    n = frame.height
    return pl.DataFrame(
        {
            "flight_id": frame["flight_id"],
            "delay_probability": [p + i / 100 for i in range(n)],
            "delayed": [p + i / 100 >= 0.3 for i in range(n)],
            "carrier_unknown": [False] * n,
            "origin_unknown": [False] * n,
            "dest_unknown": [True] * n,
            "tailnum_unknown": [False] * n,
            "weather_from_snapshot": [True] * n,
            "weather_missing": [False] * n,
            "state_stale_days": pl.Series([3] * n, dtype=pl.Int32),
            "history_incomplete": [False] * n,
        }
    )


def test_append_writes_one_line_per_prediction_in_a_daily_per_process_file(tmp_path):
    frame = request(3)
    path = PredictionLog(tmp_path).append(
        frame, scores_for(frame), model_version="v1", bento_tag="b:1", served_at=SERVED
    )
    assert path == tmp_path / f"2026-11-23-{os.getpid()}.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 3
    first = lines[0]
    assert set(first) == set(LOG_SCHEMA)
    assert first["served_at"] == "2026-11-23T12:30:00+00:00"
    assert first["sched_dep_local"] == "2013-03-01T05:15:00"
    assert first["flight_id"] == "f1" and first["flight_number"] == 1
    assert first["carrier"] == "UA" and first["origin"] == "EWR" and first["dest"] == "IAH"
    assert first["tailnum"] == "N14228"
    assert first["model_version"] == "v1" and first["bento_tag"] == "b:1"
    assert first["weather_from_snapshot"] is True and first["dest_unknown"] is True
    assert first["state_stale_days"] == 3
    assert len({line["request_id"] for line in lines}) == 1


def test_read_back_several_files_and_requests_with_types(tmp_path):
    log = PredictionLog(tmp_path)
    a, b = request(2), request(3, first_flight=10)
    log.append(a, scores_for(a), model_version="v1", served_at=SERVED)
    next_day = datetime(2026, 11, 24, 0, 0, 1, tzinfo=UTC)
    log.append(b, scores_for(b), model_version="v1", request_id="r2", served_at=next_day)
    assert len(list(tmp_path.glob("*.jsonl"))) == 2
    # another process's file
    other = tmp_path / "2026-11-22-1.jsonl"
    other.write_text((tmp_path / f"2026-11-23-{os.getpid()}.jsonl").read_text().splitlines()[0])

    df = read_prediction_log(tmp_path)
    assert df.height == 6
    assert df.schema["served_at"] == pl.Datetime("us", "UTC")
    assert df.schema["sched_dep_local"] == pl.Datetime("us")
    assert df.schema["flight_number"] == pl.Int32
    assert df.schema["delay_probability"] == pl.Float64
    assert df.schema["delayed"] == pl.Boolean
    assert df.schema["state_stale_days"] == pl.Int32
    assert df["request_id"].n_unique() == 2  # the copied line repeats the first request's id
    assert df["request_id"].to_list()[-3:] == ["r2"] * 3  # oldest file first
    assert df["bento_tag"].null_count() == 6
    assert df["served_at"][-1] == next_day
    assert df["sched_dep_local"][0] == datetime(2013, 3, 1, 5, 15)


def test_a_torn_last_line_is_skipped(tmp_path):
    frame = request(4)
    path = PredictionLog(tmp_path).append(frame, scores_for(frame), model_version="v1")
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # killed mid-write
    df = read_prediction_log(tmp_path)
    assert df.height == 3
    assert df["flight_id"].to_list() == ["f1", "f2", "f3"]


def test_an_absent_or_empty_folder_reads_as_an_empty_log(tmp_path):
    for folder in (tmp_path / "missing", tmp_path):
        df = read_prediction_log(folder)
        assert df.height == 0 and df.columns == list(LOG_SCHEMA)
        assert df.schema["served_at"] == pl.Datetime("us", "UTC")


def test_a_failing_append_is_logged_not_raised(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    frame = request(2)
    assert (
        PredictionLog(blocker / "log").append(frame, scores_for(frame), model_version="v") is None
    )
    bad_scores = scores_for(frame).head(1)  # row count mismatch
    assert PredictionLog(tmp_path).append(frame, bad_scores, model_version="v") is None
    assert "prediction log" in caplog.text


def test_the_service_write_raises_and_check_says_why(tmp_path):
    # The service's policy: a prediction that cannot be logged is not served (503).
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    log = PredictionLog(blocker / "log")
    frame = request(2)
    with pytest.raises(PredictionLogUnavailable, match="cannot be written"):
        log.write(frame, scores_for(frame), model_version="v1")
    assert "cannot be created" in log.check()
    ok = PredictionLog(tmp_path / "ok")
    assert ok.check() is None
    path = ok.write(frame, scores_for(frame), model_version="v1")
    assert read_prediction_log(path.parent).height == 2


def test_default_folder_is_under_flightline_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FLIGHTLINE_HOME", str(tmp_path))
    assert PredictionLog().folder == tmp_path.resolve() / "prediction_log"


def test_join_outcomes_matches_on_date_carrier_number_origin(tmp_path):
    frame = request(4)  # f1 03-01 05:15, f2 03-02 06:15, f3 03-01 07:15, f4 03-02 08:15
    PredictionLog(tmp_path).append(frame, scores_for(frame), model_version="v1")
    log = read_prediction_log(tmp_path)
    flights = pl.DataFrame(
        {
            "flight_date": [date(2013, 3, 1), date(2013, 3, 2), date(2013, 3, 2), date(2013, 3, 1)],
            "carrier": ["UA", "UA", "UA", "UA"],
            "flight_number": [1, 2, 3, 4],
            "origin": ["EWR", "EWR", "EWR", "LGA"],
            "is_delayed": [True, None, False, False],
        }
    )
    # f1: delayed; f2: cancelled (null); f3: same number on another day -> no match;
    # f4: same day and number but another origin -> no match
    joined = join_outcomes(log, flights)
    assert joined.height == log.height
    assert joined["flight_id"].to_list() == ["f1", "f2", "f3", "f4"]
    assert joined["is_delayed"].to_list() == [True, None, None, None]
    assert joined["flight_date"].to_list() == [
        date(2013, 3, 1),
        date(2013, 3, 2),
        date(2013, 3, 1),
        date(2013, 3, 2),
    ]


def test_join_outcomes_keeps_each_log_row_once():
    log = pl.DataFrame(
        {
            "sched_dep_local": [datetime(2013, 3, 1, 5, 15)] * 2,
            "carrier": ["UA", "UA"],
            "flight_number": pl.Series([1, 1], dtype=pl.Int32),
            "origin": ["EWR", "EWR"],
        }
    )
    flights = pl.DataFrame(
        {
            "flight_date": [date(2013, 3, 1)] * 2,
            "carrier": ["UA"] * 2,
            "flight_number": [1, 1],
            "origin": ["EWR"] * 2,
            "is_delayed": [True, True],
        }
    )
    assert join_outcomes(log, flights)["is_delayed"].to_list() == [True, True]


@pytest.mark.parametrize("n", [1, 500])
def test_one_write_per_request(tmp_path, monkeypatch, n):
    writes = []
    real_open = type(tmp_path).open

    def counting_open(self, *args, **kwargs):
        handle = real_open(self, *args, **kwargs)
        write = handle.write
        handle.write = lambda data: writes.append(len(data)) or write(data)
        return handle

    monkeypatch.setattr(type(tmp_path), "open", counting_open)
    frame = request(n)
    PredictionLog(tmp_path).append(frame, scores_for(frame), model_version="v1")
    assert len(writes) == 1


def test_explanations_are_logged_as_json_when_asked_for(tmp_path):
    frame = request(2)
    explained = scores_for(frame).with_columns(
        pl.Series(
            "explanation",
            [{"units": "log-odds", "raw_score": -1.0 + i, "top": []} for i in range(2)],
        )
    )
    PredictionLog(tmp_path).append(frame, explained, model_version="v1")
    PredictionLog(tmp_path).append(frame, scores_for(frame), model_version="v1")
    log = read_prediction_log(tmp_path)
    assert [json.loads(e)["raw_score"] for e in log["explanation"].head(2)] == [-1.0, 0.0]
    assert log["explanation"].tail(2).is_null().all()


def test_the_day_file_is_opened_once_and_reopened_for_a_new_day(tmp_path, monkeypatch):
    opened = []
    real_open = type(tmp_path).open

    def counting_open(self, *args, **kwargs):
        opened.append(self.name)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(type(tmp_path), "open", counting_open)
    log = PredictionLog(tmp_path)
    frame = request(2)
    for _ in range(3):
        log.write(frame, scores_for(frame), model_version="v1", served_at=SERVED)
    next_day = datetime(2026, 11, 24, 0, 0, 1, tzinfo=UTC)
    log.write(frame, scores_for(frame), model_version="v1", served_at=next_day)
    log.close()
    pid = os.getpid()
    assert opened == [f"2026-11-23-{pid}.jsonl", f"2026-11-24-{pid}.jsonl"]
    assert read_prediction_log(tmp_path).height == 8  # every write flushed, none lost


def test_a_moved_or_replaced_folder_fails_the_write_and_a_restored_one_works(tmp_path):
    # The file is kept open: a write must still fail when its path no longer leads to it.
    folder = tmp_path / "log"
    log = PredictionLog(folder)
    frame = request(1)
    log.write(frame, scores_for(frame), model_version="v1", served_at=SERVED)
    saved = tmp_path / "saved"
    folder.rename(saved)
    folder.write_text("a file where the log folder should be")
    with pytest.raises(PredictionLogUnavailable, match="cannot be written"):
        log.write(frame, scores_for(frame), model_version="v1", served_at=SERVED)
    folder.unlink()  # removed: created again by the next write
    log.write(frame, scores_for(frame), model_version="v1", served_at=SERVED)
    assert read_prediction_log(folder).height == 1  # a fresh file in the recreated folder
    folder.rename(tmp_path / "gone")
    saved.rename(folder)
    log.write(frame, scores_for(frame), model_version="v1", served_at=SERVED)
    assert read_prediction_log(folder).height == 2  # the restored file, appended to
    assert read_prediction_log(tmp_path / "gone").height == 1
