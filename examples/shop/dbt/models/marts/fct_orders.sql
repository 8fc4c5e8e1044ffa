select
    o.order_id,
    o.customer_id,
    c.country,
    o.product_id,
    p.category,
    o.quantity,
    p.unit_price,
    cast(o.quantity * p.unit_price as decimal(12, 2)) as amount,
    o.status,
    o.order_date,
    o.loaded_at
from {{ ref('stg_orders') }} as o
join {{ ref('stg_products') }} as p
    on o.product_id = p.product_id
join {{ ref('stg_customers') }} as c
    on o.customer_id = c.customer_id
