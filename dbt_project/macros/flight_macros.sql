{#- The flight-date window of an incremental run: start_date / end_date (inclusive, ISO
    dates) from --vars (by hand: dbt build --vars '{start_date: ..., end_date: ...}'), else
    from FLIGHTLINE_DBT_START_DATE / _END_DATE (how Dagster passes it); neither, or a var
    set to null (unit tests): every date.
    The environment is read only while executing (`execute`), never while parsing: dbt
    re-parses the whole project when --vars change or when an env_var() seen at parse time
    changes, and a full parse costs ~5 s per invocation. -#}
{% macro window_date(name) -%}
    {%- set value = var(name, '') -%}
    {%- if value == '' -%}
        {%- set value = env_var('FLIGHTLINE_DBT_' ~ (name | upper), '') if execute else '' -%}
    {%- endif -%}
    {%- set value = value or none -%}
    {#- Pasted into SQL by in_history_window: only an ISO date (a calendar date) gets there. -#}
    {%- if value is not none -%}
        {%- set text = value | string -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
            {{- exceptions.raise_compiler_error(
                'window ' ~ name ~ ' must be a date YYYY-MM-DD (from --vars or FLIGHTLINE_DBT_'
                ~ (name | upper) ~ '), got ' ~ (text | tojson)) -}}
        {%- endif -%}
        {%- set _ = modules.datetime.date.fromisoformat(text) -%}
        {%- set value = text -%}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}

{% macro in_date_window(column, extend_end_days=0) -%}
    {{ in_history_window(column, 0, extend_end_days) }}
{%- endmacro %}

{#- Like in_date_window, reaching lookback_days before the window start: the history the
    rolling features of the window's first day need. -#}
{% macro in_history_window(column, lookback_days, extend_end_days=0) -%}
    {%- set start_date = window_date('start_date') -%}
    {%- set end_date = window_date('end_date') -%}
    {%- if start_date is none or end_date is none -%}
        true
    {%- else -%}
        {{ column }} between date '{{ start_date }}' - interval {{ lookback_days }} day
        and date '{{ end_date }}' + interval {{ extend_end_days }} day
    {%- endif -%}
{%- endmacro %}

{#- HHMM local clock time (as the feeds publish it, 2400 included) to a local timestamp. -#}
{% macro hhmm_to_local_timestamp(date_column, hhmm_column) -%}
    {%- set minutes = '(' ~ integer_divide(hhmm_column, 100) ~ ' * 60 + ' ~ hhmm_column ~ ' % 100)' -%}
    {{ add_minutes(date_to_timestamp(date_column), minutes) }}
{%- endmacro %}

{#- The flight's surrogate key: md5 of its natural key (date, carrier, flight number, origin),
    the same in every feed that names the flight. -#}
{% macro flight_id(date_column, carrier, flight_number, origin) -%}
    md5(concat_ws('|', {{ iso_date_text(date_column) }}, {{ carrier }}, {{ flight_number }}, {{ origin }}))
{%- endmacro %}

{#- The flight's key as both flight feeds (schedules, actuals) publish it, named as the
    warehouse names it: flight_id, flight_date, carrier, flight_number, origin. One list, so
    the two staging models key a flight alike (fct_flights joins them on it). -#}
{% macro flight_key_columns() -%}
    {{ flight_id('flight_date', 'carrier', 'flight', 'origin') }} as flight_id,
        flight_date,
        carrier,
        flight as flight_number,
        origin
{%- endmacro %}

{#- Feeds may re-publish a row (a re-filed day): keep the latest load of each key. -#}
{% macro keep_latest_load(key_columns) -%}
    qualify row_number() over (
            partition by {{ key_columns | join(', ') }}
            order by _loaded_at desc, _row_number desc
        ) = 1
{%- endmacro %}

{#- The measures an hour's weather observation and its forecast share, named as the
    warehouse names them (a forecast has no dew point, humidity or wind direction). One
    list, so the two hourly staging models name a measure alike (flight_features compares
    a flight's forecast with what the hour's weather was like). -#}
{% macro weather_measure_columns() -%}
    temp as temperature_f,
        wind_speed as wind_speed_mph,
        wind_gust as wind_gust_mph,
        precip as precipitation_in,
        pressure as pressure_mb,
        visib as visibility_miles
{%- endmacro %}

{#- The hourly feeds (weather, forecasts): one row per airport and UTC hour, its latest
    load, with hour_utc, the hour as a UTC wall time (the warehouse's timestamps). -#}
{% macro latest_airport_hours(relation) -%}
    select
            *,
            {{ utc_wall_time('time_hour') }} as hour_utc
        from {{ relation }}
        {{ keep_latest_load(['origin', 'time_hour']) }}
{%- endmacro %}
