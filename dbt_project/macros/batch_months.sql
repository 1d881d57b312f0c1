{#-
    The months a run builds: the half-open date range [min_date, max_date) of the project vars the
    orchestrator sets for a month partition (or a range of months).

    in_batch_months(column): a predicate on a date column, `true` when the run builds every month
    (no vars, or --full-refresh).

    Tests on the incremental mart carry `where: __batch_months__`: get_where_subquery (dbt's hook
    for the `where` config) replaces it with the predicate, so a monthly run tests the months it
    wrote instead of the whole table.
-#}
{% macro in_batch_months(column) -%}
    {%- set min_date = var('min_date', none) -%}
    {%- set max_date = var('max_date', none) -%}
    {%- if min_date is none or max_date is none or flags.FULL_REFRESH -%}
        true
    {%- else -%}
        {{ column }} >= cast('{{ min_date }}' as date) and {{ column }} < cast('{{ max_date }}' as date)
    {%- endif -%}
{%- endmacro %}


{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where | replace('__batch_months__', in_batch_months('flight_date')) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
