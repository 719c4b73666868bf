with

-- Keyed by the UTC hour, like the observations (stg_ops__weather): a forecast re-published
-- for the same airport and hour keeps its latest load.
airport_hours as (
    {{ latest_airport_hours(source('ops', 'forecasts')) }}
),

final as (
    select
        origin,
        hour_utc as forecast_for_at,
        forecast_date,
        hour as forecast_hour_local,
        {{ weather_measure_columns() }},
        _loaded_at
    from airport_hours
)

select * from final
