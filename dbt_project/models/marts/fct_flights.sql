{#-
    One row per flight, enriched with airline, plane, airport and origin-weather attributes.

    Incremental by month: a run builds the months of batch_window() (macros/batch_months.sql: the
    vars min_date/max_date, e.g. --vars '{"min_date": "2013-01-01", "max_date": "2013-02-01"}', or
    the orchestrator's FLIGHTLINE_BATCH_MIN_DATE/_MAX_DATE) and delete+insert on flight_month
    replaces exactly those months, so a rerun never duplicates rows. With no window, every month
    in staging is (re)built, and so does --full-refresh whatever the window says.
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='flight_month',
        on_schema_change='fail'
    )
}}

{%- set min_date, max_date = batch_window() -%}
{%- if (min_date is none) != (max_date is none) -%}
    {{ exceptions.raise_compiler_error(
        "fct_flights: set both min_date and max_date (half-open [min_date, max_date)), or neither; got min_date="
        ~ min_date ~ ", max_date=" ~ max_date) }}
{%- endif -%}
{%- if is_incremental() -%}
    {#- The table exists: delete+insert replaces the batch's months (every month without vars). -#}
    {%- set filter_months = min_date is not none -%}
{%- elif flags.FULL_REFRESH -%}
    {#- A full refresh recreates the table, so it rebuilds every month: with the month vars it
        would otherwise silently drop every month outside [min_date, max_date). -#}
    {%- set filter_months = false -%}
    {%- if min_date is not none and execute -%}
        {{ log("fct_flights: --full-refresh rebuilds every month; ignoring min_date/max_date", info=True) }}
    {%- endif -%}
{%- else -%}
    {#- The first build creates the table with the batch's months. -#}
    {%- set filter_months = min_date is not none -%}
{%- endif %}

with flights as (

    select * from {{ ref('int_flights') }}
    {%- if filter_months %}
    where {{ in_batch_months('flight_date') }}
    {%- endif %}

),

airlines as (

    select * from {{ ref('dim_airlines') }}

),

planes as (

    select * from {{ ref('dim_planes') }}

),

airports as (

    select * from {{ ref('dim_airports') }}

),

weather as (

    select * from {{ ref('stg_weather') }}

)

select
    -- keys and schedule
    flights.flight_id,
    flights.flight_date,
    flights.flight_month,
    flights.carrier,
    flights.flight_number,
    flights.tailnum,
    flights.origin,
    flights.dest,
    flights.distance_miles,
    flights.sched_dep_local,
    flights.sched_dep_utc,
    flights.sched_dep_hour,
    flights.sched_dep_minute,
    flights.sched_hour_utc,
    flights.sched_arr_hhmm,

    -- airline
    airlines.carrier_name,

    -- plane (many tail numbers are not in the registry: left join)
    planes.year_built           as plane_year_built,
    planes.seats                as plane_seats,
    planes.engines              as plane_engines,
    planes.manufacturer         as plane_manufacturer,
    planes.model                as plane_model,
    planes.type                 as plane_type,
    planes.engine               as plane_engine_type,

    -- route (a few destinations, e.g. BQN, PSE, SJU, STT, are not in airports: left join)
    origin_airport.airport_name as origin_name,
    dest_airport.airport_name   as dest_name,
    dest_airport.lat            as dest_lat,
    dest_airport.lon            as dest_lon,
    dest_airport.alt            as dest_alt,
    dest_airport.tzone          as dest_tzone,

    -- weather at the origin at the scheduled departure hour
    weather.temp,
    weather.dewp,
    weather.humid,
    weather.wind_dir,
    weather.wind_speed,
    weather.wind_gust,
    weather.precip,
    weather.pressure,
    weather.visib,

    -- outcome: known only on or after the day of the flight, never a feature
    flights.dep_time_hhmm,
    flights.dep_delay_minutes,
    flights.arr_time_hhmm,
    flights.arr_delay_minutes,
    flights.air_time_minutes,
    flights.is_cancelled,
    flights.is_diverted,
    flights.is_delayed,
    flights.arrived_at_utc,
    flights.loaded_at

from flights
left join airlines
    on flights.carrier = airlines.carrier
left join planes
    on flights.tailnum = planes.tailnum
left join airports as origin_airport
    on flights.origin = origin_airport.airport_code
left join airports as dest_airport
    on flights.dest = dest_airport.airport_code
left join weather
    on flights.origin = weather.origin
    and flights.sched_hour_utc = weather.observed_hour_utc
