with

source as (
    select * from {{ source('ops', 'actuals') }}
),

final as (
    select
        {{ flight_key_columns() }},
        dep_time as actual_departure_hhmm,
        dep_delay as departure_delay_minutes,
        arr_time as actual_arrival_hhmm,
        arr_delay as arrival_delay_minutes,
        air_time as air_time_minutes,
        -- A published actual without a departure time is a cancellation; one that departed
        -- but has no arrival delay was diverted.
        dep_time is null as is_cancelled,
        dep_time is not null and arr_delay is null as is_diverted,
        _loaded_at
    from source
)

select * from final
