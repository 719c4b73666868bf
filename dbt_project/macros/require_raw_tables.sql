{#- The raw tables are landed by flightline's loader (Python), not by dbt. On a warehouse
    without them (a fresh clone, a new FLIGHTLINE_HOME) every staging view would fail on its
    own with "Table ... does not exist": stop first, once, and say what lands them. -#}
{% macro require_raw_tables() %}
    {% if execute and flags.WHICH in ("build", "run", "test", "seed", "snapshot") %}
        {{ return(adapter.dispatch('require_raw_tables')()) }}
    {% endif %}
{% endmacro %}

{% macro duckdb__require_raw_tables() %}
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
{% endmacro %}

{#- On Spark the raw tables are the loader's Parquet copies (ingest/spark_raw.py, written
    under <data>/spark/raw/ after each load): declared here over their folders, again at
    every invocation (it keeps up with a column the loader added: Spark takes a table's
    columns from its files when it is declared, and keeps them; dropping a table declared
    over a location leaves its files alone), and each dbt invocation's session lists the
    folders afresh (one session may keep a listing: a file removed under it fails until
    REFRESH TABLE). Every declaration goes to Spark as one SQL script (BEGIN ... END: SQL
    scripting, on by default from Spark 4.2; pyproject asks for 4.3): sent one by one, the 19 statements cost 3.5-8.5 s of every Spark invocation
    on 2 cores, dbt's round trip and log lines included; as one script 1.6-6.4 s. -#}
{% macro spark__require_raw_tables() %}
    {#- Only for profiles.yml's local `spark` target (dbt's `target` does not show the
        connection method): on a cluster the raw tables are the deployment's, declared over
        its own storage (docs/spark.md), and never dropped here. -#}
    {% if target.name != 'spark' %}{{ return('') }}{% endif %}
    {% set home = env_var('FLIGHTLINE_HOME', '../data') %}
    {% set statements = ['create database if not exists raw'] %}
    {% for source in graph.sources.values() if source.schema == "raw" %}
        {% do statements.append('drop table if exists raw.' ~ source.identifier) %}
        {% do statements.append(
            'create table raw.' ~ source.identifier ~ ' using parquet location '
            ~ "'" ~ home ~ '/spark/raw/' ~ source.identifier ~ "'"
        ) %}
    {% endfor %}
    {#- ml.predictions: the scoring's folders, one per flight date (ingest/spark_session.py),
        declared with the columns its source lists (it is empty before the first scoring,
        so there are no files to read them from), again at every invocation like the raw
        tables (a column added to the source is declared), and its dates found again. -#}
    {% set predictions = graph.sources["source.flightline.ml.predictions"] %}
    {#- The source's data types are DuckDB's; these are the ones Spark spells otherwise
        (ingest/spark_session.py writes the table with the same: tests/spark pins it). -#}
    {% set spark_types = {
        'varchar': 'string', 'timestamptz': 'timestamp_ltz', 'timestamp': 'timestamp_ntz',
        'integer': 'int'
    } %}
    {% set columns = [] %}
    {% for name, column in predictions.columns.items() %}
        {% set type = column.data_type | lower %}
        {% do columns.append(name ~ ' ' ~ spark_types.get(type, type)) %}
    {% endfor %}
    {% do statements.append('create database if not exists ml') %}
    {% do statements.append('drop table if exists ml.predictions') %}
    {% do statements.append(
        'create table ml.predictions (' ~ columns | join(', ')
        ~ ') using parquet partitioned by (flight_date) location '
        ~ "'" ~ home ~ "/spark/ml/predictions'"
    ) %}
    {% do statements.append('alter table ml.predictions recover partitions') %}
    {% do run_query('begin\n' ~ statements | join(';\n') ~ ';\nend') %}
{% endmacro %}
