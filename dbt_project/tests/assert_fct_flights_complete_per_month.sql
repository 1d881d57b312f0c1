{{ config(meta={'dagster': {'ref': {'name': 'fct_flights'}}}) }}
-- Every month present in fct_flights holds exactly the flights staging has for that month: a
-- rerun of a month partition neither duplicates nor drops rows, and a month whose raw data was
-- reloaded but whose partition was not rebuilt shows up here. Months not built yet are ignored;
-- a monthly run checks the months it built.
with fct as (

    select flight_month, count(*) as fct_rows, count(distinct flight_id) as fct_flights
    from {{ ref('fct_flights') }}
    where {{ in_batch_months('flight_date') }}
    group by flight_month

),

stg as (

    select flight_month, count(*) as stg_rows
    from {{ ref('int_flights') }}
    where {{ in_batch_months('flight_date') }}
    group by flight_month

)

select fct.flight_month, fct.fct_rows, fct.fct_flights, stg.stg_rows
from fct
left join stg using (flight_month)
where stg.stg_rows is null
   or fct.fct_rows <> stg.stg_rows
   or fct.fct_flights <> fct.fct_rows
