"""The BentoML model store and bentos: plain functions (BentoML, no Dagster).

* :func:`save_model_to_bentoml` copies a registry version folder (``model.txt``,
  ``model_card.json``, ``online_features/``) into the BentoML model store as
  ``delay_model:<version>``; saving the same version again returns the existing tag.
* :func:`build_bento` builds the service in ``bentos/service.py`` into a bento pinned to one exact
  model tag (a template argument: ``name:latest`` would be re-resolved at serve time).
* :func:`latest_bento_tag` / :func:`bento_for_model` find what was built.

Everything goes to the store under ``BENTOML_HOME`` (read once per process by BentoML).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any

import bentoml
from bentoml.exceptions import BentoMLException, NotFound

from flightline.scoring import CARD_FILE, MODEL_FILE, STATE_DIR, load_scoring_model

MODEL_NAME = "delay_model"
BENTO_NAME = "delay_service"
SERVICE = "bentos.service:DelayService"
SERVICE_MODULE = "bentos.service"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The service and the whole flightline package (plain Python: the service imports a few of its
# modules, which import their own; listing files by hand went stale as modules moved).
BENTO_INCLUDE = ["bentos/service.py", "bentos/README.md", "flightline/**/*.py"]
# orjson: the service parses and writes JSON with it.
RUNTIME_PACKAGES = ("lightgbm", "polars", "numpy", "pydantic", "orjson")


def model_tag_version(version: str) -> str:
    """A registry version ('20261123T120000-1a2b3c4d') as a BentoML tag version (lowercase)."""
    tag_version = re.sub(r"[^a-z0-9_.-]", "-", version.lower()).strip("-_.")
    bentoml.Tag(MODEL_NAME, tag_version)  # raises ValueError if still invalid
    return tag_version


def _labels(card: dict[str, Any]) -> dict[str, str]:
    window = card.get("data_window", {})
    return {
        "model_version": str(card["version"]),
        "dagster_run_id": str(card.get("dagster_run_id") or ""),
        "test_month": str(window.get("test_month") or ""),
        "feature_snapshot": str((card.get("online_features") or {}).get("version") or ""),
        "framework": "lightgbm",
    }


def save_model_to_bentoml(version_folder: str | Path) -> bentoml.Tag:
    """Copy a model version folder into the BentoML model store; idempotent per version.

    Loads the folder as the service would first (a broken folder is refused here, not in a
    crash-looping server). Labels and metadata carry the version, metrics, data window, the
    Dagster run id and the upstream data versions.
    """
    folder = Path(version_folder)
    load_scoring_model(folder)
    card = json.loads((folder / CARD_FILE).read_text())
    tag = bentoml.Tag(MODEL_NAME, model_tag_version(card["version"]))
    existing = _existing_model(tag)
    if existing is not None:
        return existing
    metadata = {
        "model_version": card["version"],
        "trained_at": card.get("trained_at"),
        "threshold": card.get("threshold"),
        "metrics": card.get("metrics", {}),
        "data_window": card.get("data_window", {}),
        "online_features": card.get("online_features", {}),
        "dagster_run_id": card.get("dagster_run_id"),
        "upstream_data_versions": card.get("upstream_data_versions", {}),
        "n_features": len(card.get("features", [])),
        "lightgbm_version": card.get("lightgbm_version"),
    }
    metadata = json.loads(json.dumps(metadata, default=str))  # plain JSON types only
    try:
        with bentoml.models.create(str(tag), labels=_labels(card), metadata=metadata) as model:
            shutil.copy2(folder / MODEL_FILE, model.path_of(MODEL_FILE))
            shutil.copy2(folder / CARD_FILE, model.path_of(CARD_FILE))
            shutil.copytree(folder / STATE_DIR, model.path_of(STATE_DIR))
    except BentoMLException:
        existing = _existing_model(tag)  # saved concurrently by another process
        if existing is None:
            raise
        return existing
    return model.tag


def _existing_model(tag: bentoml.Tag) -> bentoml.Tag | None:
    try:
        return bentoml.models.get(tag).tag
    except NotFound:
        return None


def _directory_size(path: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def build_bento(
    model_tag: str | bentoml.Tag,
    *,
    labels: dict[str, str] | None = None,
    build_ctx: str | Path = PROJECT_ROOT,
    version: str | None = None,
    max_rows: int | None = None,
) -> tuple[str, int]:
    """Build the service into a bento pinned to ``model_tag``; returns (bento tag, size in bytes).

    ``model_tag`` must exist in the model store; ``name:latest`` is resolved to its version here,
    so the bento keeps serving that version whatever is saved later. The size is the bento's own
    folder (code, requirements, Dockerfile, schema); the model is referenced by tag and stays in
    the model store (``bentoml export`` packs both). Python requirements are the installed
    versions of :data:`RUNTIME_PACKAGES` (plus bentoml, added by BentoML), not locked.
    ``max_rows``: the most flights one request may hold (default: the service's 10,000).
    """
    model = bentoml.models.get(model_tag)
    pinned = str(model.tag)
    # The service module reads its template arguments at import: import it afresh for this tag.
    for name in [m for m in sys.modules if m == SERVICE_MODULE or m == "bentos"]:
        del sys.modules[name]
    bento = bentoml.build(
        SERVICE,
        name=BENTO_NAME,
        description="Flightline: probability that a flight out of New York arrives 15+ min late",
        include=BENTO_INCLUDE,
        labels={
            "model_tag": pinned,
            "model_version": model.info.labels.get("model_version", model.tag.version or ""),
            **(labels or {}),
        },
        python={
            "packages": [f"{p}=={installed_version(p)}" for p in RUNTIME_PACKAGES],
            "lock_packages": False,
        },
        args={"model_tag": pinned, **({"max_rows": max_rows} if max_rows else {})},
        build_ctx=str(build_ctx),
        version=version,
    )
    return str(bento.tag), _directory_size(bento.path)


def _bentos() -> list[bentoml.Bento]:
    try:
        return bentoml.bentos.list(BENTO_NAME)
    except NotFound:
        return []


def latest_bento_tag() -> str | None:
    """The most recently built Flightline bento, or None."""
    bentos = _bentos()
    if not bentos:
        return None
    return str(max(bentos, key=lambda b: b.info.creation_time).tag)


def bento_for_model(model_tag: str | bentoml.Tag) -> str | None:
    """The most recent bento built for exactly this model tag, or None."""
    pinned = str(bentoml.models.get(model_tag).tag)
    matching = [b for b in _bentos() if b.info.labels.get("model_tag") == pinned]
    if not matching:
        return None
    return str(max(matching, key=lambda b: b.info.creation_time).tag)
