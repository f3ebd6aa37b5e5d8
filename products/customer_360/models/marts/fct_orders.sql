{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_id') }}

select
    order_id,
    customer_id,
    ordered_at,
    order_date,
    status,
    amount,
    paid_amount,
    amount - paid_amount as outstanding_amount
from {{ ref('int_order_payments') }}
where {{ floe_dagster.partition_window('ordered_at') }}
