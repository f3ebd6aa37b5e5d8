"""customer_360 compiled for a PostgreSQL warehouse: the demo's dbt project and ingestion, unchanged."""

from pathlib import Path

from floe_dagster import load_product_definitions

defs = load_product_definitions("customer_360", Path(__file__).parent)
