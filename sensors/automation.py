"""The declarative-automation sensor, running from the start (Dagster's default one is stopped)."""

import dagster as dg

# Evaluates the automation conditions: dbt models after their raw tables, features after
# fct_flights (see assets.policies.FOLLOWS_UPSTREAM).
automation_sensor = dg.AutomationConditionSensorDefinition(
    "flightline_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
