{#- ml.predictions is written by the Python scorer (ml/scoring.py, PREDICTIONS_DDL), not by
    dbt. Creating it empty when missing lets `dbt build` run on a warehouse that has never
    scored; keep the two definitions the same. -#}
{% macro ensure_ml_tables() %}
    {% if execute %}
        {% do run_query("
            create schema if not exists ml;
            create table if not exists ml.predictions (
                flight_id varchar not null,
                flight_date date not null,
                model_version varchar not null,
                score double not null,
                predicted_label boolean not null,
                threshold double not null,
                scored_at timestamptz not null,
                forecast_missing boolean not null default false
            );
            alter table ml.predictions add column if not exists forecast_missing boolean default false;
        ") %}
    {% endif %}
{% endmacro %}
