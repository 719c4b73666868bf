"""Training, registry, scoring, evaluation and drift: plain Python, no Dagster imports."""
