-- The scheduled departure converted from New York local time to UTC (sched_dep_utc) falls in the
-- scheduled UTC hour that raw.flights gives (sched_hour_utc, which joins weather). This checks the
-- time-zone conversion and the weather join key against each other, in the months the run built.
-- Wall-clock times within two hours of a DST change are skipped: a local time in the spring gap
-- does not exist and one in the autumn overlap is ambiguous. (No 2013 flight is scheduled there.)
with flights as (

    select
        flight_id,
        sched_dep_local,
        sched_dep_utc,
        sched_hour_utc,
        -- the UTC offset (as an interval) two hours before and after the departure
        timezone('{{ var("time_zone") }}', sched_dep_utc - interval 2 hour)
            - (sched_dep_utc - interval 2 hour)::timestamp          as offset_before,
        timezone('{{ var("time_zone") }}', sched_dep_utc + interval 2 hour)
            - (sched_dep_utc + interval 2 hour)::timestamp          as offset_after
    from {{ ref('fct_flights') }}
    where {{ in_batch_months('flight_date') }}

)

select *
from flights
where offset_before = offset_after
  and date_trunc('hour', sched_dep_utc) <> sched_hour_utc
