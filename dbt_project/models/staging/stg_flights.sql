-- One row per scheduled flight out of New York. Renames, casts and derives schedule timestamps;
-- the outcome columns (measured on or after the day of the flight) come last.
with source as (

    select * from {{ source('raw', 'flights') }}

),

typed as (

    select
        make_date(year, month, day)                         as flight_date,
        carrier,
        cast(flight as integer)                             as flight_number,
        tailnum,
        origin,
        dest,
        cast(distance as integer)                           as distance_miles,
        cast(sched_dep_time // 100 as integer)              as sched_dep_hour,
        cast(sched_dep_time % 100 as integer)               as sched_dep_minute,
        time_hour                                           as sched_hour_utc,
        cast(sched_arr_time as integer)                     as sched_arr_hhmm,
        cast(dep_time as integer)                           as dep_time_hhmm,
        cast(dep_delay as integer)                          as dep_delay_minutes,
        cast(arr_time as integer)                           as arr_time_hhmm,
        cast(arr_delay as integer)                          as arr_delay_minutes,
        cast(air_time as integer)                           as air_time_minutes,
        _loaded_at                                          as loaded_at
    from source

),

scheduled as (

    select
        *,
        -- naive New York wall-clock time of the scheduled departure
        flight_date + make_time(sched_dep_hour, sched_dep_minute, 0)    as sched_dep_local
    from typed

),

derived as (

    select
        *,
        -- the wall-clock time interpreted in America/New_York (ICU), as an instant
        timezone('America/New_York', sched_dep_local)                   as sched_dep_utc,
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
    case
        when is_cancelled or is_diverted then null
        else arr_delay_minutes >= 15
    end                                                                 as is_delayed,
    case
        when is_cancelled or is_diverted then null
        -- gate departure (schedule + delay) + time in the air + 240 min for taxi out and in:
        -- longer than any 2013 taxi total (max 235 min), so it never falls before the real arrival
        else sched_dep_utc
            + to_minutes(cast(dep_delay_minutes + air_time_minutes + 240 as bigint))
    end                                                                 as arrived_at_utc,
    loaded_at
from derived
