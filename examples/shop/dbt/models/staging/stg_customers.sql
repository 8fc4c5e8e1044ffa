select
    customer_id,
    name                 as customer_name,
    lower(email)         as email,
    upper(country)       as country,
    signup_date
from {{ ref('customers') }}
