with

source as (
    select * from {{ source('reference', 'planes') }}
),

final as (
    select
        tailnum,
        year as year_built,
        type as aircraft_type,
        manufacturer,
        model,
        engines as engine_count,
        seats as seat_count,
        speed as cruising_speed_mph,
        engine as engine_type
    from source
)

select * from final
