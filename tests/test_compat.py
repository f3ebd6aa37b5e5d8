"""The non-public Dagster/dagster-dbt APIs wrapped in floe_dagster.compat still behave."""

import json

from floe_dagster.compat import is_valid_cron, select_dbt_unique_ids
from tests.conftest import DEMO


def test_cron_check_accepts_five_fields_and_rejects_nonsense():
    assert is_valid_cron("0 6 * * *")
    assert is_valid_cron("*/15 * * * 1-5")
    assert not is_valid_cron("0 25 * * *")
    assert not is_valid_cron("every day")


def test_dbt_selection_resolves_path_tag_and_graph_operators(demo_manifest):
    manifest = json.loads(demo_manifest.read_text())
    selected = select_dbt_unique_ids(manifest, DEMO, "path:models/staging")
    assert {u for u in selected if u.startswith("model.")} == {f"model.customer_360.stg_{t}" for t in ("customers", "orders", "payments")}
    upstream = select_dbt_unique_ids(manifest, DEMO, "+fct_daily_revenue", exclude="path:models/staging")
    assert "model.customer_360.int_order_payments" in upstream
    assert "model.customer_360.stg_orders" not in upstream
