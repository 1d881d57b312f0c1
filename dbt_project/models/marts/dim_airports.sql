select
    airport_code,
    airport_name,
    lat,
    lon,
    alt,
    tz_offset,
    dst,
    tzone
from {{ ref('stg_airports') }}
