-- One row per (origin, UTC hour). The local year/month/day/hour columns are dropped: the local
-- hour repeats at the autumn DST change, the UTC hour does not.
with source as (

    select * from {{ source('raw', 'weather') }}

)

select
    origin,
    time_hour                           as observed_hour_utc,
    cast(temp as double)                as temp,
    cast(dewp as double)                as dewp,
    cast(humid as double)               as humid,
    cast(wind_dir as integer)           as wind_dir,
    cast(wind_speed as double)          as wind_speed,
    cast(wind_gust as double)           as wind_gust,
    cast(precip as double)              as precip,
    cast(pressure as double)            as pressure,
    cast(visib as double)               as visib,
    _loaded_at                          as loaded_at
from source
