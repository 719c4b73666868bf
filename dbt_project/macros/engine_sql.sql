{#- The few expressions DuckDB and Spark SQL spell differently, each dispatched by the
    target's adapter (dbt's adapter.dispatch: `duckdb__<name>` on DuckDB, `spark__<name>` on
    Spark). The models call these; no model knows which engine it runs on.
    Spark's side assumes the session time zone is UTC (profiles.yml's spark target sets
    spark.sql.session.timeZone): its TIMESTAMP is an instant shown in that zone, and the
    warehouse's timestamps are wall-clock values (TIMESTAMP_NTZ) as DuckDB's are. -#}

{#- A date as text, YYYY-MM-DD. -#}
{% macro iso_date_text(column) -%}
    {{ return(adapter.dispatch('iso_date_text')(column)) }}
{%- endmacro %}
{% macro duckdb__iso_date_text(column) -%}
    strftime({{ column }}, '%Y-%m-%d')
{%- endmacro %}
{% macro spark__iso_date_text(column) -%}
    date_format({{ column }}, 'yyyy-MM-dd')
{%- endmacro %}

{#- A timestamp's hour as text, YYYY-MM-DDTHH. -#}
{% macro iso_hour_text(column) -%}
    {{ return(adapter.dispatch('iso_hour_text')(column)) }}
{%- endmacro %}
{% macro duckdb__iso_hour_text(column) -%}
    strftime({{ column }}, '%Y-%m-%dT%H')
{%- endmacro %}
{% macro spark__iso_hour_text(column) -%}
    date_format({{ column }}, "yyyy-MM-dd'T'HH")
{%- endmacro %}

{#- A timestamp plus a whole number of minutes (null minutes: null). -#}
{% macro add_minutes(timestamp, minutes) -%}
    {{ return(adapter.dispatch('add_minutes')(timestamp, minutes)) }}
{%- endmacro %}
{% macro duckdb__add_minutes(timestamp, minutes) -%}
    ({{ timestamp }} + to_minutes({{ minutes }}))
{%- endmacro %}
{% macro spark__add_minutes(timestamp, minutes) -%}
    timestampadd(minute, {{ minutes }}, {{ timestamp }})
{%- endmacro %}

{#- A local date at midnight, as a timestamp without zone. -#}
{% macro date_to_timestamp(column) -%}
    {{ return(adapter.dispatch('date_to_timestamp')(column)) }}
{%- endmacro %}
{% macro duckdb__date_to_timestamp(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}
{% macro spark__date_to_timestamp(column) -%}
    cast({{ column }} as timestamp_ntz)
{%- endmacro %}

{#- An instant (a timestamp with zone, as the loader lands time_hour) as UTC wall-clock time. -#}
{% macro utc_wall_time(column) -%}
    {{ return(adapter.dispatch('utc_wall_time')(column)) }}
{%- endmacro %}
{% macro duckdb__utc_wall_time(column) -%}
    timezone('UTC', {{ column }})
{%- endmacro %}
{% macro spark__utc_wall_time(column) -%}
    cast({{ column }} as timestamp_ntz)
{%- endmacro %}

{#- A New York wall-clock timestamp to the same instant's UTC wall-clock time. The hour
    that occurs twice when the clocks go back (01:00-01:59 on 2013-11-03) is read as its
    second occurrence (EST), as DuckDB reads it; Spark's to_utc_timestamp takes the first
    (Java's rule), so its version moves such a time an hour later when the hour after it
    reads the same on New York's clock. The hour skipped in spring (02:00-02:59 on
    2013-03-10) maps alike on both: as if the clocks had not yet moved. -#}
{% macro new_york_to_utc(timestamp_expression) -%}
    {{ return(adapter.dispatch('new_york_to_utc')(timestamp_expression)) }}
{%- endmacro %}
{% macro duckdb__new_york_to_utc(timestamp_expression) -%}
    timezone('UTC', timezone('America/New_York', {{ timestamp_expression }}))
{%- endmacro %}
{% macro spark__new_york_to_utc(timestamp_expression) -%}
    {%- set first = "to_utc_timestamp(" ~ timestamp_expression ~ ", 'America/New_York')" -%}
    cast(
        case
            when from_utc_timestamp({{ first }} + interval 1 hour, 'America/New_York')
                = {{ timestamp_expression }}
                then {{ first }} + interval 1 hour
            else {{ first }}
        end as timestamp_ntz
    )
{%- endmacro %}

{#- Integer division, truncating (both engines: toward zero; used on clock times, never negative). -#}
{% macro integer_divide(dividend, divisor) -%}
    {{ return(adapter.dispatch('integer_divide')(dividend, divisor)) }}
{%- endmacro %}
{% macro duckdb__integer_divide(dividend, divisor) -%}
    ({{ dividend }} // {{ divisor }})
{%- endmacro %}
{% macro spark__integer_divide(dividend, divisor) -%}
    ({{ dividend }} div {{ divisor }})
{%- endmacro %}

{#- ISO day of the week: Monday 1 .. Sunday 7. -#}
{% macro iso_day_of_week(column) -%}
    {{ return(adapter.dispatch('iso_day_of_week')(column)) }}
{%- endmacro %}
{% macro duckdb__iso_day_of_week(column) -%}
    isodow({{ column }})
{%- endmacro %}
{% macro spark__iso_day_of_week(column) -%}
    (weekday({{ column }}) + 1)
{%- endmacro %}

{#- Days from one date to another (later: positive). -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between')(start_date, end_date)) }}
{%- endmacro %}
{% macro duckdb__days_between(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}
{% macro spark__days_between(start_date, end_date) -%}
    datediff({{ end_date }}, {{ start_date }})
{%- endmacro %}

{#- An aggregate: the ids of a group in the order of (order_column, id_column), as a list. -#}
{% macro ids_in_order(order_column, id_column) -%}
    {{ return(adapter.dispatch('ids_in_order')(order_column, id_column)) }}
{%- endmacro %}
{% macro duckdb__ids_in_order(order_column, id_column) -%}
    list_transform(
        list_sort(list({'sort_key': {{ order_column }}, 'id': {{ id_column }}})),
        lambda entry: entry.id
    )
{%- endmacro %}
{% macro spark__ids_in_order(order_column, id_column) -%}
    transform(
        array_sort(collect_list(named_struct('sort_key', {{ order_column }}, 'id', {{ id_column }}))),
        entry -> entry.id
    )
{%- endmacro %}

{#- A value's 1-based position in a list; null when the list is null or lacks it. -#}
{% macro list_position_of(list_expression, value) -%}
    {{ return(adapter.dispatch('list_position_of')(list_expression, value)) }}
{%- endmacro %}
{% macro duckdb__list_position_of(list_expression, value) -%}
    list_position({{ list_expression }}, {{ value }})
{%- endmacro %}
{% macro spark__list_position_of(list_expression, value) -%}
    nullif(array_position({{ list_expression }}, {{ value }}), 0)
{%- endmacro %}

{#- A list's length; null for a null list (Spark's size() says -1). -#}
{% macro list_length(list_expression) -%}
    {{ return(adapter.dispatch('list_length')(list_expression)) }}
{%- endmacro %}
{% macro duckdb__list_length(list_expression) -%}
    len({{ list_expression }})
{%- endmacro %}
{% macro spark__list_length(list_expression) -%}
    case when {{ list_expression }} is not null then size({{ list_expression }}) end
{%- endmacro %}

{#- `not materialized` on a CTE: DuckDB inlines it where it is read (its planner then sees
    the table's row counts, not a guess); Spark always inlines CTEs and has no such word. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized')()) }}
{%- endmacro %}
{% macro duckdb__not_materialized() -%}
    not materialized
{%- endmacro %}
{% macro spark__not_materialized() -%}
{%- endmacro %}

{#- flight_features' hooks: DuckDB builds each join's hash table from its right side, as
    written (its optimizer's swap guessed wrong there, models/features/flight_features.sql),
    and goes back to planning them after the model. Nothing to say to Spark (an empty hook
    is skipped). -#}
{% macro joins_build_from_the_right() -%}
    {{ return(adapter.dispatch('joins_build_from_the_right')()) }}
{%- endmacro %}
{% macro duckdb__joins_build_from_the_right() -%}
    set disabled_optimizers = 'build_side_probe_side'
{%- endmacro %}
{% macro spark__joins_build_from_the_right() -%}
{%- endmacro %}

{% macro joins_build_as_planned() -%}
    {{ return(adapter.dispatch('joins_build_as_planned')()) }}
{%- endmacro %}
{% macro duckdb__joins_build_as_planned() -%}
    reset disabled_optimizers
{%- endmacro %}
{% macro spark__joins_build_as_planned() -%}
{%- endmacro %}

{#- An incremental model's partitioning, for a config() call: its date column on Spark, where
    an evening replaces the window's dates as partitions (insert_overwrite, dbt_project.yml);
    nothing on DuckDB, whose delete+insert by the same column needs none (dbt-duckdb warns
    that partitions are for DuckLake tables only). -#}
{% macro date_partition(column) -%}
    {{ return(adapter.dispatch('date_partition')(column)) }}
{%- endmacro %}
{% macro duckdb__date_partition(column) -%}
    {{ return(none) }}
{%- endmacro %}
{% macro spark__date_partition(column) -%}
    {{ return(column) }}
{%- endmacro %}
