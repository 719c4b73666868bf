with

source as (
    select * from {{ source('reference', 'airlines') }}
),

final as (
    select
        carrier,
        name as carrier_name
    from source
)

select * from final
