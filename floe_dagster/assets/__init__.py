"""Dagster assets for a product: dbt models (and their tests as checks) and dlt ingestion."""
