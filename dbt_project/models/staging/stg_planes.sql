with source as (

    select * from {{ source('raw', 'planes') }}

)

select
    tailnum,
    cast(year as integer)       as year_built,
    type,
    manufacturer,
    model,
    cast(engines as integer)    as engines,
    cast(seats as integer)      as seats,
    cast(speed as integer)      as speed,
    engine,
    _loaded_at                  as loaded_at
from source
