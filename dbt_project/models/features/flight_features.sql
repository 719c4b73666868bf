{{
    config(
        unique_key='flight_date',
        partition_by=date_partition('flight_date'),
        tags=['daily'],
        pre_hook="{{ joins_build_from_the_right() }}",
        post_hook="{{ joins_build_as_planned() }}",
    )
}}

{#- Every join below has the flights on its left and the smaller relation on its right, and
    is meant to build its hash table from the right. DuckDB's optimizer swaps sides by its
    cardinality estimates, which are far off after the aggregates and CTEs here: at 10M
    flights it built three tables from the 10M flights, which spilled under the 4 GB limit
    (54 s for the model; with the swap off: 25 s, 2.2 GB, identical rows). Hence the hooks:
    the setting is per connection, so it is reset after the model (macros/engine_sql.sql;
    on Spark they are empty). -#}

{%- set lookback = var('feature_lookback_days') %}

with

-- Not materialized: the consumers read the columns they need from fct_flights, and DuckDB
-- sees the table's row count instead of guessing a CTE's.
history as {{ not_materialized() }} (
    select
        flight_id,
        flight_date,
        carrier,
        origin,
        dest,
        tailnum,
        scheduled_departure_local,
        scheduled_departure_at,
        distance_miles,
        has_actuals,
        is_delayed
    from {{ ref('fct_flights') }}
    where {{ in_history_window('flight_date', lookback, lookback) }}
),

flights as {{ not_materialized() }} (
    select
        *,
        hour(scheduled_departure_local) as scheduled_departure_hour
    from history
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
-- Aggregates joined back by their keys, not window functions over every flight: a window
-- sorts the whole window's rows (and joining its result back by flight_id is a 10M-row
-- string join).
origin_hour_load as (
    select
        origin,
        flight_date,
        scheduled_departure_hour,
        count(*) as origin_departures_same_hour
    from flights
    group by all
),

origin_day_load as (
    select
        origin,
        flight_date,
        count(*) as origin_departures_same_day
    from flights
    group by all
),

-- Each aircraft's flights of the day in departure order (ties by flight_id): a flight's leg
-- is its position in the list. Sorting each aircraft's few legs beats ranking all flights.
plane_day_legs as (
    select
        flights.tailnum,
        flights.flight_date,
        {{ ids_in_order('flights.scheduled_departure_local', 'flights.flight_id') }} as legs
    from flights
    where flights.tailnum is not null
    group by all
),

holiday_proximity as (
    select
        flight_days.flight_date,
        min(abs({{ days_between('flight_days.flight_date', 'holidays.holiday_date') }}))
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
        flights.scheduled_departure_hour,
        {{ iso_day_of_week('flights.flight_date') }} as day_of_week,
        month(flights.flight_date) as month_of_year,
        {{ iso_day_of_week('flights.flight_date') }} in (6, 7) as is_weekend,
        flights.distance_miles,
        origin_hour_load.origin_departures_same_hour,
        origin_day_load.origin_departures_same_day,
        {{ list_position_of('plane_day_legs.legs', 'flights.flight_id') }} as plane_leg_of_day,
        {{ list_length('plane_day_legs.legs') }} as plane_legs_of_day,
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
    -- The aggregates by key and date, joined back on their same-named keys: `using` says so
    -- where `on` spelled out each pair (ST07 asks for `on`). Only the forecasts' join, on a
    -- truncated time, is not one of them, and comes last: after an `on` join a key name
    -- would be ambiguous to `using`.
    -- noqa: disable=ST07
    inner join origin_hour_load using (origin, flight_date, scheduled_departure_hour)
    inner join origin_day_load using (origin, flight_date)
    left join plane_day_legs using (tailnum, flight_date)
    left join planes using (tailnum)
    left join holiday_proximity using (flight_date)
    left join carrier_rates using (carrier, flight_date)
    left join origin_rates using (origin, flight_date)
    left join route_rates using (origin, dest, flight_date)
    left join plane_rates using (tailnum, flight_date)
    -- noqa: enable=ST07
    left join forecasts
        on
            flights.origin = forecasts.origin
            and date_trunc('hour', flights.scheduled_departure_at) = forecasts.forecast_for_at
)

select * from final
