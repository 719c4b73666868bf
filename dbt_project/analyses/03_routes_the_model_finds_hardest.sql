-- Which routes does the model find hardest? Brier score (mean squared error of the predicted
-- probability) per route with at least 30 scored flights, worst first.
select
    origin || '-' || dest as route,
    count(*) as flights,
    round(avg(is_delayed::int), 3) as delay_rate,
    round(avg(score), 3) as mean_score,
    round(avg(power(score - is_delayed::int, 2)), 4) as brier_score
from ml.prediction_outcomes
group by route
having count(*) >= 30
order by brier_score desc
limit 20
