{#-
    Fails for every combination of `combination_of_columns` that occurs more than once
    (a compound-key uniqueness test, like dbt_utils' of the same name, without the package).
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
