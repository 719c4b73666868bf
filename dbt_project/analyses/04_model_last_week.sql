-- How did the model do last week? Daily performance over the 7 latest days with outcomes.
select
    flight_date,
    model_version,
    flights,
    round(base_rate, 3) as base_rate,
    round(mean_score, 3) as mean_score,
    round(roc_auc, 3) as roc_auc,
    round(precision_at_threshold, 3) as precision_at_threshold,
    round(recall_at_threshold, 3) as recall_at_threshold
from ml.model_performance_daily
where flight_date > (select max(flight_date) from ml.model_performance_daily) - interval 7 day
order by flight_date
