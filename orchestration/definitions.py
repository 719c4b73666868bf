from dagster import Definitions

from orchestration.assets.dbt import dbt_daily_models, dbt_reference_models
from orchestration.assets.ingest import ingest_assets
from orchestration.jobs import feature_pipeline_job
from orchestration.resources import WarehouseResource, dbt_resource
from orchestration.sensors import landing_files_sensor

defs = Definitions(
    assets=[*ingest_assets, dbt_reference_models, dbt_daily_models],
    jobs=[feature_pipeline_job],
    sensors=[landing_files_sensor],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
)
