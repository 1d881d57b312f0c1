with source as (

    select * from {{ source('raw', 'airlines') }}

)

select
    carrier,
    name        as carrier_name,
    _loaded_at  as loaded_at
from source
