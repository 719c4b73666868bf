-- Where and when are flights cancelled? Cancellations per New York airport and month.
select
    origin,
    month(flight_date) as flight_month,
    count(*) filter (where is_cancelled) as cancelled,
    round(avg(is_cancelled::int), 4) as cancellation_rate
from marts.fct_flights
where has_actuals
group by all
order by origin, flight_month
