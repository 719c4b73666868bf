-- Can the scores be read as probabilities? Observed delay rate per decile of predicted score.
select
    ntile_score as score_decile,
    count(*) as flights,
    round(avg(score), 3) as mean_score,
    round(avg(is_delayed::int), 3) as observed_delay_rate
from (
    select
        score,
        is_delayed,
        ntile(10) over (order by score) as ntile_score
    from ml.prediction_outcomes
) as ranked
group by score_decile
order by score_decile
