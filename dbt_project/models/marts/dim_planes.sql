with

planes as (
    select * from {{ ref('stg_reference__planes') }}
),

final as (
    select
        tailnum,
        year_built,
        aircraft_type,
        manufacturer,
        model,
        engine_count,
        seat_count,
        cruising_speed_mph,
        engine_type
    from planes
)

select * from final
