-- Revenue per order_date, overall (country = 'ALL') and per country.
-- Returned orders do not count towards revenue.
with billable as (
    select order_date, country, amount
    from {{ ref('fct_orders') }}
    where status <> 'returned'
),

per_country as (
    select
        order_date,
        country,
        count(*)    as orders,
        sum(amount) as revenue
    from billable
    group by order_date, country
),

overall as (
    select
        order_date,
        'ALL'       as country,
        count(*)    as orders,
        sum(amount) as revenue
    from billable
    group by order_date
)

select order_date, country, orders, cast(revenue as decimal(14, 2)) as revenue
from overall
union all
select order_date, country, orders, cast(revenue as decimal(14, 2)) as revenue
from per_country
