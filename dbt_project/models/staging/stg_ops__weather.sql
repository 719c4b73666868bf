with

-- One row per airport and UTC hour (time_hour is an instant). The local hour 01:00 on
-- 2013-11-03 occurs twice (EDT, then EST): those are two real readings, distinct in UTC,
-- and both stay. A reading published twice for the same airport and UTC hour (a re-filed
-- day) keeps its latest load.
airport_hours as (
    {{ latest_airport_hours(source('ops', 'weather')) }}
),

final as (
    select
        origin,
        hour_utc as observed_at,
        obs_date as observed_date,
        hour as observed_hour_local,
        {{ weather_measure_columns() }},
        dewp as dew_point_f,
        humid as relative_humidity_pct,
        wind_dir as wind_direction_deg,
        _loaded_at
    from airport_hours
)

select * from final
