"""One partitioned asset job per partition scheme, for `dagster job backfill` and the UI."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from floe_dagster.loading.plan import ProductPlan
from floe_dagster.names import PRODUCT_TAG, SCHEME_TAG


def backfill_job_name(scheme: str) -> str:
    return f"{scheme}_job"


def build_partitioned_jobs(plan: ProductPlan) -> list:
    """Every asset of a scheme in one job; its runs follow the assets' backfill policies."""
    return [
        define_asset_job(
            name=backfill_job_name(scheme),
            selection=AssetSelection.tag(SCHEME_TAG, scheme),
            description=f"All assets partitioned by `{scheme}`: backfill them with this job.",
            tags={PRODUCT_TAG: plan.name},
        )
        for scheme in plan.schemes
    ]
