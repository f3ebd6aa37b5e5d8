select
    payment_id,
    order_id,
    cast(paid_at as timestamp) as paid_at,
    method,
    cast(amount as decimal(12, 2)) as amount
from {{ source('shop', 'payments') }}
