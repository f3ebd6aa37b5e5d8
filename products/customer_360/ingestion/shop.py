"""The demo shop: customers, orders and payments, generated deterministically.

Same seed, same rows, on every machine: 1,000 customers and 4,000 orders with their
payments over 100 days from 2026-01-01. Given a window, only orders and payments in it
(payments by their order's time) are yielded, so a partition loads just its day; merges on primary keys make a re-load
replace rows instead of adding them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import dlt

FIRST_DAY = datetime(2026, 1, 1)
DAYS = 100
CUSTOMERS = 1_000
ORDERS = 4_000
COUNTRIES = ["DE", "FR", "GB", "NL", "US", "ES", "IT", "SE"]
STATUSES = ["placed", "shipped", "completed", "returned"]
METHODS = ["card", "paypal", "bank_transfer", "gift_card"]


def _customers() -> list[dict]:
    rng = random.Random(360)
    return [
        {
            "customer_id": i,
            "full_name": f"Customer {i:04d}",
            "email": f"Customer.{i:04d}@Example.com",
            "country": rng.choice(COUNTRIES),
            "signed_up_at": FIRST_DAY - timedelta(days=rng.randint(0, 700)),
        }
        for i in range(1, CUSTOMERS + 1)
    ]


def _orders_and_payments() -> tuple[list[dict], list[dict]]:
    rng = random.Random(361)
    orders, payments = [], []
    for i in range(1, ORDERS + 1):
        ordered_at = FIRST_DAY + timedelta(seconds=rng.randint(0, DAYS * 86_400 - 1))
        amount = round(rng.uniform(5, 400), 2)
        orders.append(
            {
                "order_id": i,
                "customer_id": rng.randint(1, CUSTOMERS),
                "ordered_at": ordered_at,
                "status": rng.choice(STATUSES),
                "amount": amount,
            }
        )
        parts = rng.choice([1, 1, 1, 2])
        for p in range(parts):
            payments.append(
                {
                    "payment_id": i * 10 + p,
                    "order_id": i,
                    "paid_at": ordered_at + timedelta(minutes=rng.randint(0, 120)),
                    "method": rng.choice(METHODS),
                    "amount": round(amount / parts, 2),
                }
            )
    return orders, payments


def _in_window(ts: datetime, min_date: datetime | None, max_date: datetime | None) -> bool:
    return (min_date is None or ts >= min_date) and (max_date is None or ts < max_date)


@dlt.source(name="shop")
def shop_source(min_date: datetime | None = None, max_date: datetime | None = None):
    """Yields the shop's tables; `min_date`/`max_date` narrow orders and payments to a window."""
    orders, payments = _orders_and_payments()

    @dlt.resource(name="customers", write_disposition="merge", primary_key="customer_id")
    def customers() -> Iterator[dict]:
        yield _customers()

    @dlt.resource(name="orders", write_disposition="merge", primary_key="order_id")
    def orders_resource() -> Iterator[dict]:
        yield [o for o in orders if _in_window(o["ordered_at"], min_date, max_date)]

    @dlt.resource(name="payments", write_disposition="merge", primary_key="payment_id")
    def payments_resource() -> Iterator[dict]:
        in_window = {o["order_id"] for o in orders if _in_window(o["ordered_at"], min_date, max_date)}
        yield [p for p in payments if p["order_id"] in in_window]

    return customers, orders_resource, payments_resource
