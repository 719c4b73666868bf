{#- Two CTEs for one entity (a carrier, an airport, a route, a plane):
    <name>_daily: per entity and flight date, flights with a known outcome and delayed ones;
    <name>_rates: per entity and date D, those counts summed over the `days` days before D,
    D itself excluded. So a feature of D uses only outcomes published by the end of D - 1.
    Expects a CTE named `history` with the entity keys, flight_date, has_actuals, is_delayed. -#}
{% macro rolling_delay_rates(name, keys, windows) -%}
{{ name }}_daily as (
    select
        {{ keys | join(', ') }},
        flight_date,
        count(*) filter (where has_actuals) as flights_with_outcome,
        count(*) filter (where is_delayed) as flights_delayed
    from history
    where {% for key in keys %}{{ key }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
    group by all
),

{{ name }}_rates as (
    select
        {{ keys | join(', ') }},
        flight_date,
        {%- for days in windows %}
        coalesce(sum(flights_with_outcome) over last_{{ days }}d, 0)::integer
            as {{ name }}_flights_{{ days }}d,
        sum(flights_delayed) over last_{{ days }}d
        / nullif(sum(flights_with_outcome) over last_{{ days }}d, 0)
            as {{ name }}_delay_rate_{{ days }}d{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ name }}_daily
    window
        {%- for days in windows %}
        last_{{ days }}d as (
            partition by {{ keys | join(', ') }}
            order by flight_date
            range between interval {{ days }} day preceding and interval 1 day preceding
        ){% if not loop.last %},{% endif %}
        {%- endfor %}
)
{%- endmacro %}
