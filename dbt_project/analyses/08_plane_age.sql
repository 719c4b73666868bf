-- Are older planes later? Delay rate by age of the aircraft, in five-year bands.
select
    (year(flights.flight_date) - planes.year_built) // 5 * 5 as age_band_years,
    count(*) as flights,
    round(avg(flights.is_delayed::int), 3) as delay_rate
from marts.fct_flights as flights
inner join marts.dim_planes as planes on flights.tailnum = planes.tailnum
where flights.has_actuals and planes.year_built is not null
group by age_band_years
order by age_band_years
