-- How did the model do last week? Daily performance over the 7 latest days with outcomes.
select
    daily.flight_date,
    daily.model_version,
    daily.flights,
    round(daily.base_rate, 3) as base_rate,
    round(daily.mean_score, 3) as mean_score,
    round(daily.roc_auc, 3) as roc_auc,
    round(daily.precision_at_threshold, 3) as precision_at_threshold,
    round(daily.recall_at_threshold, 3) as recall_at_threshold
from ml.model_performance_daily as daily
where
    daily.flight_date
    > (select max(latest.flight_date) from ml.model_performance_daily as latest) - interval 7 day
order by daily.flight_date
