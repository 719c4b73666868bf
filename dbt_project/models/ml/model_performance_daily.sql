with

outcomes as (
    select * from {{ ref('prediction_outcomes') }}
),

-- ROC AUC as the Mann-Whitney statistic: the average rank of the delayed flights among all
-- flights of the day, ties sharing their average rank.
ranked as (
    select
        flight_date,
        model_version,
        is_delayed,
        predicted_label,
        score,
        rank() over by_score
        + (count(*) over (partition by flight_date, model_version, score) - 1) / 2.0
            as average_rank
    from outcomes
    window by_score as (partition by flight_date, model_version order by score)
),

daily as (
    select
        flight_date,
        model_version,
        count(*) as flights,
        count(*) filter (where is_delayed) as delayed_flights,
        count(*) filter (where predicted_label) as predicted_delays,
        count(*) filter (where predicted_label and is_delayed) as true_positives,
        sum(average_rank) filter (where is_delayed) as delayed_rank_sum,
        avg(score) as mean_score
    from ranked
    group by flight_date, model_version
),

final as (
    select
        flight_date,
        model_version,
        flights,
        delayed_flights,
        delayed_flights / flights as base_rate,
        mean_score,
        -- The ranks are half-integers, exact as decimals; divided as doubles, since Spark
        -- divides decimals to 6 places (a literal 2.0 is a decimal on both engines).
        cast(delayed_rank_sum - delayed_flights * (delayed_flights + 1) / 2.0 as double)
        / nullif(delayed_flights * (flights - delayed_flights), 0) as roc_auc,
        true_positives / nullif(predicted_delays, 0) as precision_at_threshold,
        true_positives / nullif(delayed_flights, 0) as recall_at_threshold
    from daily
)

select * from final
