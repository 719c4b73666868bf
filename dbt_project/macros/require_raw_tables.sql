{#- The raw tables are landed by flightline's loader (Python), not by dbt. On a warehouse
    without them (a fresh clone, a new FLIGHTLINE_HOME) every staging view would fail on its
    own with "Table ... does not exist": stop first, once, and say what lands them. -#}
{% macro require_raw_tables() %}
    {% if execute and flags.WHICH in ("build", "run", "test", "seed", "snapshot") %}
        {% set wanted = [] %}
        {% for source in graph.sources.values() if source.schema == "raw" %}
            {% do wanted.append(source.identifier) %}
        {% endfor %}
        {% set found = run_query(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).columns[0].values() %}
        {% set missing = [] %}
        {% for name in wanted | sort if name not in found %}
            {% do missing.append("raw." ~ name) %}
        {% endfor %}
        {% if missing %}
            {{ exceptions.raise_compiler_error(
                "the warehouse " ~ target.path ~ " has no " ~ missing | join(", ")
                ~ ": the loader lands them, not dbt. From the repository root run"
                ~ " `make run` (or `flightline run`) first, then `dbt build` again."
            ) }}
        {% endif %}
    {% endif %}
{% endmacro %}
