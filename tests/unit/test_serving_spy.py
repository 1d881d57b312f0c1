"""The py-spy benchmark's summary: shares of samples by function, own and inclusive."""

from bench.serving_spy import sample_shares
from flightline import settings


def test_samples_are_counted_once_per_stack_and_paths_are_shortened():
    project = settings.PROJECT_ROOT
    raw = "\n".join(
        [
            f"run (/x/site-packages/uvicorn/server.py:10);score ({project}/flightline/a.py:5) 3",
            f"run (/x/site-packages/uvicorn/server.py:10);send ({project}/flightline/b.py:9) 1",
            # a recursive frame counts once in its stack's inclusive share
            f"run (/x/site-packages/uvicorn/server.py:10);score ({project}/flightline/a.py:5);"
            f"score ({project}/flightline/a.py:7) 2",
            "",
        ]
    )
    total, own, inclusive = sample_shares(raw)
    assert total == 6
    assert own == {"score (flightline/a.py)": 5, "send (flightline/b.py)": 1}
    assert inclusive["run (uvicorn/server.py)"] == 6
    assert inclusive["score (flightline/a.py)"] == 5
