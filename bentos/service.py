"""Flightline delay service: will a flight out of New York arrive 15+ minutes late?

    POST /predict           {"flights": [{carrier, flight, tailnum, origin, dest,
                             scheduled_departure, distance?, weather?}, ...]}
    GET|POST /model_card    the model card (metrics, features, data window, versions)

Build a bento pinned to one model with ``flightline.bento_store.build_bento(model_tag)``, then
``bentoml serve flight_delay_service:<version>``. Validation, features and scoring are plain code
in ``flightline.scoring``; this module only wires them to HTTP.
"""

from __future__ import annotations

import os

import bentoml
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flightline.prediction_log import PredictionLog
from flightline.scoring import (
    DEFAULT_MAX_ROWS,
    Flight,
    Prediction,
    PredictRequest,
    PredictResponse,
    Provenance,
    load_scoring_model,
    prediction_records,
    requests_frame,
    score_flights,
)


class Args(BaseModel):
    # Pinned at build time (bento_store.build_bento); "latest" only for `bentoml serve` from source.
    model_tag: str = "flight_delay_model:latest"
    max_rows: int = DEFAULT_MAX_ROWS


args = bentoml.use_arguments(Args)


class FlightsRequest(PredictRequest):
    max_rows = args.max_rows


# BentoML APIs answer POST only; GET /model_card comes from this small mounted app.
_card: dict = {}


async def get_model_card(request: Request) -> JSONResponse:
    return JSONResponse(_card) if _card else JSONResponse({"error": "not ready"}, 503)


card_app = Starlette(routes=[Route("/model_card", get_model_card, methods=["GET"])])


def bento_tag() -> str | None:
    ctx = bentoml.server_context
    if ctx.bento_name and ctx.bento_version not in ("", "not available"):
        return f"{ctx.bento_name}:{ctx.bento_version}"
    return os.environ.get("FLIGHTLINE_BENTO_TAG")  # serving from source: whatever the caller says


@bentoml.asgi_app(card_app, path="/")
@bentoml.service(name="flight_delay", traffic={"timeout": 60})
class FlightDelay:
    model_ref = bentoml.models.BentoModel(args.model_tag)

    def __init__(self) -> None:
        self.model = load_scoring_model(self.model_ref.path)
        self.provenance = Provenance(
            **self.model.provenance(), model_tag=str(self.model_ref.tag), bento_tag=bento_tag()
        )
        serving = {"model_tag": self.provenance.model_tag, "bento_tag": self.provenance.bento_tag}
        _card.update(self.model.card, serving={**serving, "max_rows": args.max_rows})
        # Every served prediction goes to <FLIGHTLINE_HOME>/prediction_log/ (set FLIGHTLINE_HOME
        # when serving a bento: the default data folder is relative to the code).
        self.log = PredictionLog()

    @bentoml.api(input_spec=FlightsRequest)
    def predict(self, flights: list[Flight]) -> PredictResponse:
        """Delay probabilities for 1 to max_rows flights, scored in one vectorized call."""
        frame = requests_frame(flights)
        scores = score_flights(self.model, frame)
        self.log.append(
            frame,
            scores,
            model_version=self.provenance.model_version,
            bento_tag=self.provenance.bento_tag,
        )
        predictions = [Prediction.model_construct(**row) for row in prediction_records(scores)]
        return PredictResponse.model_construct(predictions=predictions, provenance=self.provenance)

    @bentoml.api(route="/model_card")
    def model_card(self) -> dict:
        """The model card: metrics, features, training data window, versions."""
        return _card
