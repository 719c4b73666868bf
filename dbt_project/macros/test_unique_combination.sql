{#- A table-level uniqueness test over several columns, without pulling in dbt_utils
    (packages need the network at `dbt deps` time). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
