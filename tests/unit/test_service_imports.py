"""The modules the bento runs import with only its runtime packages: no scikit-learn, matplotlib,
Dagster or DuckDB (the bento's requirements are lightgbm, polars, numpy and pydantic)."""

import subprocess
import sys

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"sklearn", "matplotlib", "dagster", "duckdb"}:
            raise ImportError(f"{name} is not in the bento")
sys.meta_path.insert(0, Block())
import flightline.scoring, flightline.serving_fast, flightline.prediction_log
import flightline.row_predict
import flightline.service_http, flightline.prediction_schema
print("imported")
"""


def test_service_modules_import_without_training_or_pipeline_packages():
    done = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "imported"
