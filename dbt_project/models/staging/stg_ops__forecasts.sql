with

source as (
    select * from {{ source('ops', 'forecasts') }}
),

-- Keyed by the UTC hour, like the observations: a forecast re-published for the same
-- airport and hour keeps its latest load.
deduplicated as (
    select * from source
    {{ keep_latest_load(['origin', 'time_hour']) }}
),

final as (
    select
        origin,
        {{ utc_wall_time('time_hour') }} as forecast_for_at,
        forecast_date,
        hour as forecast_hour_local,
        temp as temperature_f,
        wind_speed as wind_speed_mph,
        wind_gust as wind_gust_mph,
        precip as precipitation_in,
        pressure as pressure_mb,
        visib as visibility_miles,
        _loaded_at
    from deduplicated
)

select * from final
