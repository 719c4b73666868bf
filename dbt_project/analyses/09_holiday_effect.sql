-- Are flights near holidays later? Delay rate by days to the nearest US federal holiday.
select
    least(days_to_nearest_holiday, 8) as days_to_holiday_capped_at_8,
    count(*) as flights,
    round(avg(is_delayed::int), 3) as delay_rate
from features.flight_features
where is_delayed is not null
group by days_to_holiday_capped_at_8
order by days_to_holiday_capped_at_8
