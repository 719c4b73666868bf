with

source as (
    select * from {{ source('ops', 'weather') }}
),

-- Keyed by the UTC hour (time_hour is an instant). The local hour 01:00 on 2013-11-03
-- occurs twice (EDT, then EST): those are two real readings, distinct in UTC, and both
-- stay. A reading published twice for the same airport and UTC hour (a re-filed day) keeps
-- its latest load.
deduplicated as (
    select * from source
    {{ keep_latest_load(['origin', 'time_hour']) }}
),

final as (
    select
        origin,
        {{ utc_wall_time('time_hour') }} as observed_at,
        obs_date as observed_date,
        hour as observed_hour_local,
        temp as temperature_f,
        dewp as dew_point_f,
        humid as relative_humidity_pct,
        wind_dir as wind_direction_deg,
        wind_speed as wind_speed_mph,
        wind_gust as wind_gust_mph,
        precip as precipitation_in,
        pressure as pressure_mb,
        visib as visibility_miles,
        _loaded_at
    from deduplicated
)

select * from final
