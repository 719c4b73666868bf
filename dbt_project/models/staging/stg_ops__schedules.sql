with

source as (
    select * from {{ source('ops', 'schedules') }}
),

renamed as (
    select
        {{ flight_key_columns() }},
        dest,
        nullif(trim(tailnum), '') as tailnum,
        {{ hhmm_to_local_timestamp('flight_date', 'sched_dep_time') }}
            as scheduled_departure_local,
        -- Arrival clock times are local at the destination and wrap past midnight.
        {{ hhmm_to_local_timestamp('flight_date', 'sched_arr_time') }}
        + case
            when sched_arr_time < sched_dep_time then interval 1 day
            else interval 0 day
        end as scheduled_arrival_local,
        distance as distance_miles,
        _loaded_at
    from source
),

final as (
    select
        *,
        {{ new_york_to_utc('scheduled_departure_local') }} as scheduled_departure_at
    from renamed
)

select * from final
