with

airports as (
    select * from {{ ref('stg_reference__airports') }}
),

final as (
    select
        airport_code,
        airport_name,
        latitude,
        longitude,
        altitude_ft,
        utc_offset_hours,
        dst_rule,
        time_zone,
        airport_code in ('EWR', 'JFK', 'LGA') as is_new_york_origin
    from airports
)

select * from final
