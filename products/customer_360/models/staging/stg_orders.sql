select
    order_id,
    customer_id,
    cast(ordered_at as timestamp) as ordered_at,
    cast(ordered_at as date) as order_date,
    status,
    cast(amount as decimal(12, 2)) as amount
from {{ source('shop', 'orders') }}
