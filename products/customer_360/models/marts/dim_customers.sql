select
    c.customer_id,
    c.full_name,
    c.email,
    c.country,
    c.signed_up_on,
    coalesce(o.order_count, 0) as order_count,
    coalesce(o.lifetime_value, 0) as lifetime_value,
    o.first_order_date,
    o.last_order_date
from {{ ref('stg_customers') }} as c
left join {{ ref('int_customer_orders') }} as o using (customer_id)
