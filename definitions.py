"""The one Definitions object of Flightline."""

import dagster as dg

from assets.dbt import dbt_models, dbt_monthly_models
from assets.features import features_point_in_time, flight_features, online_features
from assets.feedback import served_predictions
from assets.metadata import with_owners
from assets.model import backtest, champion_model, delay_model
from assets.monitoring import feature_drift, model_performance
from assets.raw import raw_assets
from assets.serving import bento_model, delay_service_bento, flight_predictions
from jobs import (
    backtest_job,
    features_job,
    ingest_job,
    live_performance_job,
    monitoring_job,
    monitoring_schedule,
    scoring_job,
    training_job,
)
from resources import build_resources
from sensors.automation import automation_sensor
from sensors.landing import landing_sensor
from sensors.retraining import retraining_sensor

defs = dg.Definitions(
    # Every asset carries the team's owner, set once in assets/metadata.py.
    assets=with_owners(
        [
            *raw_assets,
            dbt_models,
            dbt_monthly_models,
            flight_features,
            online_features,
            delay_model,
            champion_model,
            backtest,
            bento_model,
            delay_service_bento,
            flight_predictions,
            feature_drift,
            model_performance,
            served_predictions,
        ]
    ),
    asset_checks=[features_point_in_time],
    jobs=[
        ingest_job,
        features_job,
        training_job,
        backtest_job,
        scoring_job,
        monitoring_job,
        live_performance_job,
    ],
    schedules=[monitoring_schedule],
    sensors=[landing_sensor, retraining_sensor, automation_sensor],
    resources=build_resources(),
)
