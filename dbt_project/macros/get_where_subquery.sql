{#- dbt calls this to build the relation a data test reads. Overridden so that, in a run over
    a window of flight dates, the tests of the daily models read only the dates the run
    (re)built: the window and the lookback days after it that the features refresh. An
    evening's build then tests one day, not the whole history: its cost stays flat as the
    history grows. Without a window (a full build, CI, by hand) tests read everything, as
    dbt's own macro does. A test's own `where` config still applies.
    Which column dates each model: var test_window_columns in dbt_project.yml. Safe for
    uniqueness: every key of these models contains its date, so a duplicate can only sit
    within one date, and a run only writes its window's dates. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set column = var('test_window_columns', {}).get(relation.identifier) -%}
    {%- set window = 'true' -%}
    {%- if column -%}
        {%- set window = in_history_window(column, 0, var('feature_lookback_days')) | trim -%}
    {%- endif -%}
    {%- if where or window != 'true' -%}
        {%- set filtered -%}
            (select * from {{ relation }} where ({{ where or 'true' }}) and {{ window }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
