"""The model registry: versioned model folders plus one JSON index of validated versions.

``<models>/delay_model/<version>/`` holds ``model.txt`` (LightGBM text), ``model_card.json``
and ``test_predictions.parquet``. ``<models>/registry.json`` lists the validated versions, the
champion, and every promotion and rollback, so no change of champion is silent. Plain files: the
service, the sensors and people can read them without opening the warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:  # imported where a model is trained or read (flightline/__init__.py says why)
    import lightgbm as lgb

MODEL_NAME = "delay_model"


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def model_version(model_text: str, trained_at: dt.datetime) -> str:
    """Sortable and content-addressed: '20261123T120000-1a2b3c4d'."""
    digest = hashlib.sha256(model_text.encode()).hexdigest()[:8]
    return f"{trained_at.strftime('%Y%m%dT%H%M%S')}-{digest}"


def write_json_atomically(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(partial, path)


@dataclass(frozen=True)
class ModelRegistry:
    root: Path

    @property
    def index_path(self) -> Path:
        return self.root / "registry.json"

    def version_dir(self, version: str) -> Path:
        return self.root / MODEL_NAME / version

    # --- artifacts -------------------------------------------------------------------------
    def save_version(
        self, version: str, model_text: str, card: dict[str, Any], test_predictions: pl.DataFrame
    ) -> Path:
        folder = self.version_dir(version)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.txt").write_text(model_text)
        test_predictions.write_parquet(folder / "test_predictions.parquet")
        write_json_atomically(folder / "model_card.json", card)
        return folder

    def card(self, version: str) -> dict[str, Any]:
        return json.loads((self.version_dir(version) / "model_card.json").read_text())

    def booster(self, version: str) -> lgb.Booster:
        import lightgbm as lgb

        return lgb.Booster(model_file=str(self.version_dir(version) / "model.txt"))

    def test_predictions(self, version: str) -> pl.DataFrame:
        return pl.read_parquet(self.version_dir(version) / "test_predictions.parquet")

    def find_model(self, model_hash: str, data_window: dict[str, Any]) -> str | None:
        """A saved version with this model hash trained on this data window, if any."""
        for card_path in sorted((self.root / MODEL_NAME).glob("*/model_card.json")):
            card = json.loads(card_path.read_text())
            if card.get("model_hash") == model_hash and card.get("data_window") == data_window:
                return card_path.parent.name
        return None

    # --- the index -------------------------------------------------------------------------
    def index(self) -> dict[str, Any]:
        if not self.index_path.exists():
            return {"champion": None, "versions": [], "events": []}
        return json.loads(self.index_path.read_text())

    def champion(self) -> str | None:
        return self.index()["champion"]

    def registered_versions(self) -> list[str]:
        return [v["version"] for v in self.index()["versions"]]

    def validated_versions(self) -> list[str]:
        return [v["version"] for v in self.index()["versions"] if v["status"] == "validated"]

    def register_and_promote(self, version: str, summary: dict[str, Any], run_id: str) -> dict:
        """Record ``version`` as validated and make it the champion; returns the event."""
        index = self.index()
        if version not in [v["version"] for v in index["versions"]]:
            index["versions"].append(
                {
                    "version": version,
                    "status": "validated",
                    "registered_at": now_utc(),
                    "run_id": run_id,
                    **summary,
                }
            )
        event = {
            "event": "promotion",
            "at": now_utc(),
            "from": index["champion"],
            "to": version,
            "run_id": run_id,
            "reason": "passed the validation gate",
        }
        index["champion"] = version
        index["events"].append(event)
        write_json_atomically(self.index_path, index)
        return event

    def rollback(self, reason: str) -> dict:
        """Make the previous validated version the champion again and retire the current one."""
        index = self.index()
        current = index["champion"]
        earlier = [
            v for v in index["versions"] if v["status"] == "validated" and v["version"] != current
        ]
        if current is None or not earlier:
            raise ValueError("no earlier validated model to roll back to")
        for v in index["versions"]:
            if v["version"] == current:
                v["status"] = "rolled_back"
        event = {
            "event": "rollback",
            "at": now_utc(),
            "from": current,
            "to": earlier[-1]["version"],
            "reason": reason,
        }
        index["champion"] = earlier[-1]["version"]
        index["events"].append(event)
        write_json_atomically(self.index_path, index)
        return event
