"""The declared features (ml/features.py): the model's column order, and the roles drift reads."""

from ml.drift import ALERTING_COLUMNS
from ml.features import CATEGORICAL_FEATURES, DECLARED, FEATURES, NUMERIC_FEATURES, Role


def test_the_models_columns_keep_their_order():
    """A registered model reads its columns by position: the list, as it stood when every
    model so far was trained, must never be reordered by a change to the declarations."""
    assert FEATURES == [
        "carrier",
        "origin",
        "dest",
        "scheduled_departure_hour",
        "day_of_week",
        "is_weekend",
        "distance_miles",
        "origin_departures_same_hour",
        "origin_departures_same_day",
        "plane_leg_of_day",
        "plane_legs_of_day",
        "plane_age_years",
        "plane_seat_count",
        "plane_engine_count",
        "has_plane_record",
        "days_to_nearest_holiday",
        "carrier_flights_7d",
        "carrier_delay_rate_7d",
        "carrier_flights_28d",
        "carrier_delay_rate_28d",
        "origin_flights_1d",
        "origin_delay_rate_1d",
        "origin_flights_7d",
        "origin_delay_rate_7d",
        "origin_flights_28d",
        "origin_delay_rate_28d",
        "route_flights_28d",
        "route_delay_rate_28d",
        "plane_flights_28d",
        "plane_delay_rate_28d",
        "forecast_temperature_f",
        "forecast_wind_speed_mph",
        "forecast_wind_gust_mph",
        "forecast_precipitation_in",
        "forecast_visibility_miles",
        "forecast_pressure_mb",
    ]
    assert CATEGORICAL_FEATURES == ["carrier", "origin", "dest"]
    assert FEATURES == CATEGORICAL_FEATURES + NUMERIC_FEATURES
    assert [feature.name for feature in DECLARED] == FEATURES


def test_only_the_flights_population_alerts_on_drift():
    population = (
        "carrier origin dest scheduled_departure_hour distance_miles origin_departures_same_hour "
        "plane_leg_of_day plane_legs_of_day plane_age_years plane_seat_count plane_engine_count "
        "has_plane_record"
    )
    assert tuple(population.split()) == ALERTING_COLUMNS
    roles = {feature.name: feature.role for feature in DECLARED}
    assert {roles[name] for name in ("day_of_week", "days_to_nearest_holiday")} == {Role.CALENDAR}
    assert roles["origin_delay_rate_28d"] is Role.AGGREGATE
    assert roles["forecast_wind_gust_mph"] is Role.WEATHER
