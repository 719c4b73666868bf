{{ config(materialized='incremental', unique_key='observed_date', tags=['daily']) }}
{{ config(partition_by=date_partition('observed_date')) }}

with

weather as (
    select * from {{ ref('stg_ops__weather') }}
    where {{ in_date_window('observed_date') }}
),

final as (
    select
        md5(concat_ws('|', origin, {{ iso_hour_text('observed_at') }})) as weather_hour_id,
        origin,
        observed_at,
        observed_date,
        observed_hour_local,
        temperature_f,
        dew_point_f,
        relative_humidity_pct,
        wind_direction_deg,
        wind_speed_mph,
        wind_gust_mph,
        precipitation_in,
        pressure_mb,
        visibility_miles
    from weather
)

select * from final
