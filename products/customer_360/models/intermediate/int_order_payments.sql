{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_id') }}

with payments as (
    select order_id, sum(amount) as paid_amount, count(*) as payment_count
    from {{ ref('stg_payments') }}
    group by order_id
)

select
    o.order_id,
    o.customer_id,
    o.ordered_at,
    o.order_date,
    o.status,
    o.amount,
    coalesce(p.paid_amount, 0) as paid_amount,
    coalesce(p.payment_count, 0) as payment_count
from {{ ref('stg_orders') }} as o
left join payments as p using (order_id)
where {{ floe_dagster.partition_window('o.ordered_at') }}
