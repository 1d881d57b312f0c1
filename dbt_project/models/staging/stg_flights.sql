-- One row per scheduled flight out of New York, renamed and typed from raw.flights. Schedule
-- columns come first; the outcome columns (measured on or after the day of the flight) last.
with source as (

    select * from {{ source('raw', 'flights') }}

)

select
    make_date(year, month, day)                         as flight_date,
    carrier,
    cast(flight as integer)                             as flight_number,
    tailnum,
    origin,
    dest,
    cast(distance as integer)                           as distance_miles,
    -- HHMM split into its hour and minute
    cast(sched_dep_time // 100 as integer)              as sched_dep_hour,
    cast(sched_dep_time % 100 as integer)               as sched_dep_minute,
    time_hour                                           as sched_hour_utc,
    cast(sched_arr_time as integer)                     as sched_arr_hhmm,

    -- outcome: known only on or after the day of the flight, never a feature
    cast(dep_time as integer)                           as dep_time_hhmm,
    cast(dep_delay as integer)                          as dep_delay_minutes,
    cast(arr_time as integer)                           as arr_time_hhmm,
    cast(arr_delay as integer)                          as arr_delay_minutes,
    cast(air_time as integer)                           as air_time_minutes,
    _loaded_at                                          as loaded_at
from source
