{#- dbt-spark 1.11's seed loader with the `session` method pastes each value into its INSERT
    between quotes without escaping them (its cursor formats the statement with `%`): the
    holidays seed's "New Year's Day" ended the literal and failed the statement. This
    project's override (dbt takes a root project's `spark__` macro before the adapter's)
    writes each value as an escaped Spark string literal and casts it, as dbt-spark does. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set sql -%}
        insert into {{ this.render() }} values
        {% for row in agate_table.rows -%}
            ({%- for value in row -%}
                {%- set name = agate_table.column_names[loop.index0] -%}
                {%- set type = column_override.get(name, adapter.convert_type(agate_table, loop.index0)) -%}
                {%- if value is none -%}
                    cast(null as {{ type }})
                {%- else -%}
                    cast('{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
                {%- endif -%}
                {%- if not loop.last %}, {% endif -%}
            {%- endfor -%})
            {%- if not loop.last %},{% endif %}
        {% endfor -%}
    {%- endset -%}
    {% do adapter.add_query(sql, abridge_sql_log=True) %}
    {{ return(sql) }}
{% endmacro %}
