with

airlines as (
    select * from {{ ref('stg_reference__airlines') }}
),

final as (
    select
        carrier,
        carrier_name
    from airlines
)

select * from final
