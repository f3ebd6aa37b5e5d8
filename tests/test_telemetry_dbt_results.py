"""A dbt model span says how the model went, and the rows it affected when the adapter says."""

from __future__ import annotations

from datetime import UTC, datetime

from floe_dagster.observability.dbt_results import model_results

# run_results.json as dbt-postgres writes it (dbt-duckdb reports no row counts).
RUN_RESULTS = {
    "results": [
        {
            "unique_id": "model.shop.orders",
            "status": "success",
            "timing": [
                {
                    "name": "compile",
                    "started_at": "2026-04-10T06:00:00.000000Z",
                    "completed_at": "2026-04-10T06:00:01.000000Z",
                },
                {
                    "name": "execute",
                    "started_at": "2026-04-10T06:00:01.000000Z",
                    "completed_at": "2026-04-10T06:00:03.500000Z",
                },
            ],
            "adapter_response": {"_message": "INSERT 0 42", "code": "INSERT", "rows_affected": 42},
            "message": "INSERT 0 42",
        },
        {
            "unique_id": "model.shop.revenue",
            "status": "error",
            "timing": [],
            "adapter_response": {},
            "message": "Binder Error: column x does not exist",
        },
        {
            "unique_id": "test.shop.not_null_orders_id",
            "status": "pass",
            "timing": [],
            "adapter_response": {},
            "message": None,
        },
    ]
}


def test_models_keep_status_timing_and_reported_rows_and_tests_are_left_out():
    results = model_results(RUN_RESULTS)
    assert set(results) == {"model.shop.orders", "model.shop.revenue"}
    orders = results["model.shop.orders"]
    assert orders.succeeded and orders.rows_affected == 42
    assert orders.started_at == datetime(2026, 4, 10, 6, 0, 0, tzinfo=UTC)
    assert orders.completed_at == datetime(2026, 4, 10, 6, 0, 3, 500000, tzinfo=UTC)
    revenue = results["model.shop.revenue"]
    assert not revenue.succeeded and revenue.rows_affected is None
    assert revenue.started_at is None and "Binder Error" in revenue.message
