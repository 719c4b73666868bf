-- The worst days to fly: the ten days with the highest delay rate.
select
    flight_date,
    count(*) as flights,
    round(avg(is_delayed::int), 3) as delay_rate,
    count(*) filter (where is_cancelled) as cancelled
from marts.fct_flights
where has_actuals
group by flight_date
order by delay_rate desc, flight_date asc
limit 10
