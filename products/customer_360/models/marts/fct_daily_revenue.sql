{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='order_date') }}

select
    order_date,
    count(*) as order_count,
    sum(amount) as revenue,
    sum(paid_amount) as collected
from {{ ref('fct_orders') }}
where {{ floe_dagster.partition_window('ordered_at') }}
group by order_date
