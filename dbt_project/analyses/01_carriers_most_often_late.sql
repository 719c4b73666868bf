-- Which carrier is most often late? Share of flights arriving 15+ minutes late, cancelled or
-- diverted, per carrier, with at least 1,000 flights.
select
    flights.carrier,
    carriers.carrier_name,
    count(*) as flights,
    round(avg(flights.is_delayed::int), 3) as delay_rate
from marts.fct_flights as flights
left join marts.dim_carriers as carriers on flights.carrier = carriers.carrier
where flights.has_actuals
group by all
having count(*) >= 1000
order by delay_rate desc
