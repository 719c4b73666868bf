-- Does rain at departure matter? Delay rate with and without precipitation at the origin in
-- the scheduled hour.
select
    coalesce(weather.precipitation_in > 0, false) as raining_at_departure,
    count(*) as flights,
    round(avg(flights.is_delayed::int), 3) as delay_rate
from marts.fct_flights as flights
left join marts.fct_weather_hourly as weather
    on
        flights.origin = weather.origin
        and date_trunc('hour', flights.scheduled_departure_at) = weather.observed_at
where flights.has_actuals
group by raining_at_departure
order by raining_at_departure
