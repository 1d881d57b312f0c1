select
    tailnum,
    year_built,
    type,
    manufacturer,
    model,
    engines,
    seats,
    speed,
    engine
from {{ ref('stg_planes') }}
