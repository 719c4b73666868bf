{#- Write to the schemas by their own names (marts, not main_marts): analysts and the
    Python side address raw, staging, marts and features directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
