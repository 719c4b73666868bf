{#- dbt's relationships test, for a key that contains its date (flight_id is the md5 of the
    flight's date, carrier, number and origin): a row of date D can only refer to a row of
    date D, so in a windowed run the parent is read for the run's dates, like the child
    (macros/get_where_subquery.sql), not whole. dbt's own test read every flight_id of the
    parent each evening: a cost that grew with the history (10M keys at 10M flights).
    Without a window it reads everything, as dbt's does. -#}
{% test relationships_same_day(model, column_name, to, field) %}
{%- set date_column = var('test_window_columns', {}).get(to.identifier) -%}
{%- set window = in_history_window('parent.' ~ date_column, 0, var('feature_lookback_days')) | trim
    if date_column else 'true' -%}
select child.{{ column_name }}
from (select * from {{ model }}) as child
where
    child.{{ column_name }} is not null
    and not exists (
        select 1 from {{ to }} as parent
        where {{ window }} and parent.{{ field }} = child.{{ column_name }}
    )
{% endtest %}
