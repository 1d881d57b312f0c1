{#-
    Fails for every row where a column breaks the domain that the raw load enforces
    (flightline/raw_schemas.py): a missing required value, a value outside [min, max], a clock
    time whose minutes are 60 or more (HHMM), a string that is not of the expected shape (a regular
    expression the whole value must match). Nulls pass every rule but `required`.
    The load quarantines such rows before they reach raw; this is the second line of defence, and
    tests/unit/test_marts_domain.py keeps its figures equal to the load's.
-#}
{% test within_domain(model, required=[], ranges={}, clock_times=[], patterns={}) %}

{%- set checks = [] -%}
{%- for column in required -%}
    {%- do checks.append("case when " ~ column ~ " is null then '" ~ column ~ ": missing' end") -%}
{%- endfor -%}
{%- for column, bounds in ranges.items() -%}
    {%- do checks.append(
        "case when " ~ column ~ " not between " ~ bounds[0] ~ " and " ~ bounds[1]
        ~ " then '" ~ column ~ ": outside [" ~ bounds[0] ~ ", " ~ bounds[1] ~ "]' end") -%}
{%- endfor -%}
{%- for column in clock_times -%}
    {%- do checks.append(
        "case when " ~ column ~ " % 100 >= 60 then '" ~ column ~ ": not an HHMM clock time' end") -%}
{%- endfor -%}
{%- for column, pattern in patterns.items() -%}
    {%- do checks.append(
        "case when not regexp_full_match(" ~ column ~ ", '" ~ pattern ~ "') then '"
        ~ column ~ ": not of the shape " ~ pattern ~ "' end") -%}
{%- endfor %}

select *
from (
    select *, concat_ws('; ', {{ checks | join(', ') }}) as domain_violations
    from {{ model }}
)
where domain_violations <> ''

{% endtest %}
