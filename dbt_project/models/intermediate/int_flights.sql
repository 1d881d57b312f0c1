-- One row per flight with the rules of the platform applied to the typed staging rows: the flight
-- key, the scheduled departure as an instant, the cancel and divert flags, the delay label and when
-- the outcome was known.
with flights as (

    select * from {{ ref('stg_flights') }}

),

scheduled as (

    select
        *,
        -- naive New York wall-clock time of the scheduled departure
        flight_date + make_time(sched_dep_hour, sched_dep_minute, 0)    as sched_dep_local
    from flights

),

flagged as (

    select
        *,
        -- the wall-clock time interpreted in the project's time zone (ICU), as an instant
        timezone('{{ var("time_zone") }}', sched_dep_local)             as sched_dep_utc,
        dep_time_hhmm is null                                           as is_cancelled,
        dep_time_hhmm is not null and arr_delay_minutes is null         as is_diverted
    from scheduled

)

select
    strftime(flight_date, '%Y-%m-%d') || '_' || carrier || '_'
        || cast(flight_number as varchar) || '_' || origin              as flight_id,
    flight_date,
    strftime(flight_date, '%Y-%m')                                      as flight_month,
    carrier,
    flight_number,
    tailnum,
    origin,
    dest,
    distance_miles,
    sched_dep_local,
    sched_dep_utc,
    sched_dep_hour,
    sched_dep_minute,
    sched_hour_utc,
    sched_arr_hhmm,

    -- outcome: known only on or after the day of the flight, never a feature
    dep_time_hhmm,
    dep_delay_minutes,
    arr_time_hhmm,
    arr_delay_minutes,
    air_time_minutes,
    is_cancelled,
    is_diverted,
    -- the label: arrived 15 or more minutes late; unknown for flights that never arrived
    case
        when is_cancelled or is_diverted then null
        else arr_delay_minutes >= 15
    end                                                                 as is_delayed,
    -- the arrival rule
    case
        when is_cancelled or is_diverted then null
        -- gate departure (schedule + delay) + time in the air + 240 min for taxi out and in:
        -- longer than any 2013 taxi total (max 235 min), so it never falls before the real arrival
        else sched_dep_utc
            + to_minutes(cast(dep_delay_minutes + air_time_minutes + 240 as bigint))
    end                                                                 as arrived_at_utc,
    loaded_at
from flagged
