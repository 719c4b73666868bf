from ml.planning import days_to_score


def test_only_days_the_champion_has_not_scored_are_scored():
    assert days_to_score(["2013-10-01", "2013-10-02"], ["2013-10-01"], None) == ["2013-10-02"]


def test_days_whose_features_were_rebuilt_are_scored_again():
    days = days_to_score(
        ["2013-10-01", "2013-10-02", "2013-10-03"],
        ["2013-10-01", "2013-10-02", "2013-10-03"],
        ("2013-10-02", "2013-10-09"),
    )
    assert days == ["2013-10-02", "2013-10-03"]


def test_days_without_features_are_never_scored():
    assert days_to_score([], [], ("2013-10-01", "2013-10-31")) == []


def test_dbt_and_the_scorer_define_the_same_predictions_table(tmp_path):
    import duckdb

    from ingest.settings import DBT_PROJECT_DIR
    from ml.scoring import PREDICTIONS_DDL

    macro = (DBT_PROJECT_DIR / "macros" / "ensure_ml_tables.sql").read_text()
    dbt_ddl = macro.split('run_query("')[1].split('")')[0]
    shapes = []
    for ddl in (PREDICTIONS_DDL, dbt_ddl):
        con = duckdb.connect()
        con.execute(ddl)
        shapes.append(con.execute("describe ml.predictions").fetchall())
    assert shapes[0] == shapes[1]
