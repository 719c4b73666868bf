with

predictions as (
    select * from {{ source('ml', 'predictions') }}
),

flights as (
    select * from {{ ref('fct_flights') }}
),

joined as (
    select
        predictions.flight_id,
        predictions.flight_date,
        flights.carrier,
        flights.origin,
        flights.dest,
        predictions.model_version,
        predictions.score,
        predictions.threshold,
        predictions.predicted_label,
        flights.is_delayed,
        predictions.scored_at
    from predictions
    inner join flights on predictions.flight_id = flights.flight_id
    where flights.has_actuals
),

final as (
    select
        *,
        case
            when predicted_label and is_delayed then 'true_positive'
            when predicted_label and not is_delayed then 'false_positive'
            when not predicted_label and is_delayed then 'false_negative'
            else 'true_negative'
        end as outcome
    from joined
)

select * from final
