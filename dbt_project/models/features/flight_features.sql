{{
    config(
        unique_key='flight_date',
        on_schema_change='fail',
        tags=['daily'],
    )
}}

{%- set lookback = var('feature_lookback_days') %}

with

history as (
    select * from {{ ref('fct_flights') }}
    where {{ in_history_window('flight_date', lookback, lookback) }}
),

flights as (
    select * from history
    where {{ in_date_window('flight_date', lookback) }}
),

planes as (
    select * from {{ ref('dim_planes') }}
),

forecasts as (
    select * from {{ ref('stg_ops__forecasts') }}
    where {{ in_history_window('forecast_date', 1, lookback + 1) }}
),

holidays as (
    select * from {{ ref('us_federal_holidays') }}
),

{{ rolling_delay_rates('carrier', ['carrier'], [7, 28]) }},

{{ rolling_delay_rates('origin', ['origin'], [1, 7, 28]) }},

{{ rolling_delay_rates('route', ['origin', 'dest'], [28]) }},

{{ rolling_delay_rates('plane', ['tailnum'], [28]) }},

-- Known from the schedules the day before: how busy the airport and the aircraft are.
schedule_load as (
    select
        flight_id,
        count(*) over (
            partition by origin, flight_date, hour(scheduled_departure_local)
        ) as origin_departures_same_hour,
        count(*) over (partition by origin, flight_date) as origin_departures_same_day,
        case when tailnum is not null then row_number() over (
                    partition by tailnum, flight_date
                    order by scheduled_departure_local, flight_id
                )
        end as plane_leg_of_day,
        case when tailnum is not null then count(*) over (
                    partition by tailnum, flight_date
                )
        end as plane_legs_of_day
    from flights
),

holiday_proximity as (
    select
        flight_days.flight_date,
        min(abs(date_diff('day', flight_days.flight_date, holidays.holiday_date)))
            as days_to_nearest_holiday
    from (select distinct flight_date from flights) as flight_days
    cross join holidays
    group by flight_days.flight_date
),

final as (
    select
        flights.flight_id,
        flights.flight_date,
        flights.carrier,
        flights.origin,
        flights.dest,
        flights.origin || '-' || flights.dest as route,
        flights.tailnum,
        hour(flights.scheduled_departure_local) as scheduled_departure_hour,
        isodow(flights.flight_date) as day_of_week,
        month(flights.flight_date) as month_of_year,
        isodow(flights.flight_date) in (6, 7) as is_weekend,
        flights.distance_miles,
        schedule_load.origin_departures_same_hour,
        schedule_load.origin_departures_same_day,
        schedule_load.plane_leg_of_day,
        schedule_load.plane_legs_of_day,
        year(flights.flight_date) - planes.year_built as plane_age_years,
        planes.seat_count as plane_seat_count,
        planes.engine_count as plane_engine_count,
        planes.tailnum is not null as has_plane_record,
        holiday_proximity.days_to_nearest_holiday,
        carrier_rates.carrier_flights_7d,
        carrier_rates.carrier_delay_rate_7d,
        carrier_rates.carrier_flights_28d,
        carrier_rates.carrier_delay_rate_28d,
        origin_rates.origin_flights_1d,
        origin_rates.origin_delay_rate_1d,
        origin_rates.origin_flights_7d,
        origin_rates.origin_delay_rate_7d,
        origin_rates.origin_flights_28d,
        origin_rates.origin_delay_rate_28d,
        route_rates.route_flights_28d,
        route_rates.route_delay_rate_28d,
        plane_rates.plane_flights_28d,
        plane_rates.plane_delay_rate_28d,
        -- The forecast for the origin and scheduled hour, published the day before (the
        -- feed's stand-in is the weather later observed in that hour).
        forecasts.temperature_f as forecast_temperature_f,
        forecasts.wind_speed_mph as forecast_wind_speed_mph,
        forecasts.wind_gust_mph as forecast_wind_gust_mph,
        forecasts.precipitation_in as forecast_precipitation_in,
        forecasts.visibility_miles as forecast_visibility_miles,
        forecasts.pressure_mb as forecast_pressure_mb,
        flights.is_delayed
    from flights
    inner join schedule_load on flights.flight_id = schedule_load.flight_id
    left join planes on flights.tailnum = planes.tailnum
    left join holiday_proximity on flights.flight_date = holiday_proximity.flight_date
    left join carrier_rates
        on
            flights.carrier = carrier_rates.carrier
            and flights.flight_date = carrier_rates.flight_date
    left join origin_rates
        on
            flights.origin = origin_rates.origin
            and flights.flight_date = origin_rates.flight_date
    left join route_rates
        on
            flights.origin = route_rates.origin
            and flights.dest = route_rates.dest
            and flights.flight_date = route_rates.flight_date
    left join plane_rates
        on
            flights.tailnum = plane_rates.tailnum
            and flights.flight_date = plane_rates.flight_date
    left join forecasts
        on
            flights.origin = forecasts.origin
            and date_trunc('hour', flights.scheduled_departure_at) = forecasts.forecast_for_at
)

select * from final
