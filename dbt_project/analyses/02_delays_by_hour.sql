-- How do delays change with the hour of the day? Delay rate and mean arrival delay by local
-- hour of scheduled departure.
select
    hour(scheduled_departure_local) as departure_hour,
    count(*) as flights,
    round(avg(is_delayed::int), 3) as delay_rate,
    round(avg(arrival_delay_minutes), 1) as mean_arrival_delay_minutes
from marts.fct_flights
where has_actuals
group by departure_hour
order by departure_hour
