with source as (

    select * from {{ source('raw', 'airports') }}

)

select
    faa                         as airport_code,
    name                        as airport_name,
    cast(lat as double)         as lat,
    cast(lon as double)         as lon,
    cast(alt as integer)        as alt,
    cast(tz as integer)         as tz_offset,
    dst,
    tzone,
    _loaded_at                  as loaded_at
from source
