select
    cast(order_id as integer)      as order_id,
    cast(customer_id as integer)   as customer_id,
    cast(product_id as integer)    as product_id,
    cast(quantity as integer)      as quantity,
    lower(status)                  as status,
    cast(order_date as date)       as order_date,
    cast(loaded_at as timestamp)   as loaded_at
from {{ source('raw', 'orders') }}
