-- The label and the outcome flags agree in the mart:
--   * is_delayed is null exactly when the flight was cancelled or diverted (it never arrived);
--   * otherwise is_delayed = (arr_delay_minutes >= 15);
--   * a flight is not both cancelled and diverted;
--   * arrived_at_utc is set exactly when is_delayed is, and comes after the scheduled departure.
-- Returns the offending flights of the months the run built.
select
    flight_id,
    is_cancelled,
    is_diverted,
    is_delayed,
    arr_delay_minutes,
    arrived_at_utc
from {{ ref('fct_flights') }}
where {{ in_batch_months('flight_date') }}
  and (
       (is_delayed is null) <> (is_cancelled or is_diverted)
   or is_delayed <> (arr_delay_minutes >= 15)
   or (is_cancelled and is_diverted)
   or (arrived_at_utc is null) <> (is_delayed is null)
   or arrived_at_utc <= sched_dep_utc
  )
