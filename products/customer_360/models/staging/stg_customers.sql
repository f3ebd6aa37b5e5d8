select
    customer_id,
    full_name,
    lower(email) as email,
    country,
    cast(signed_up_at as date) as signed_up_on
from {{ source('shop', 'customers') }}
