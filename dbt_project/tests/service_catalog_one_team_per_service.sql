{#- A service owned by two teams makes every per-team figure ambiguous: fail and name it. -#}
select service, count(distinct team) as teams
from {{ ref('stg_service_catalog') }}
where team is not null
group by service
having count(distinct team) > 1
