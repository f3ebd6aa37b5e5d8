select
    country,
    count(*) as customer_count,
    sum(lifetime_value) as revenue
from {{ ref('dim_customers') }}
group by country
