{#-
    The months a run builds: the half-open date range [min_date, max_date).

    batch_window(): [min_date, max_date], from the project vars when they are set
    (`dbt build --vars '{"min_date": "2013-01-01", "max_date": "2013-02-01"}'`), else from the
    environment variables FLIGHTLINE_BATCH_MIN_DATE / FLIGHTLINE_BATCH_MAX_DATE, which is how the
    orchestrator passes a month partition (or a range of months): dbt hashes --vars into its
    partial-parse state, so a different month in --vars re-parses the whole project, while these
    are read only when the run executes. [none, none] when neither is set: every month.

    in_batch_months(column): a predicate on a date column, `true` when the run builds every month
    (no window, or --full-refresh).

    Tests carry `where: __batch_months__`: get_where_subquery (dbt's hook for the `where` config)
    replaces it with the predicate on flight_date, so a monthly run tests the months it wrote
    instead of the whole table.
-#}
{% macro batch_window() -%}
    {%- set min_date = var('min_date', none) -%}
    {%- set max_date = var('max_date', none) -%}
    {%- if min_date is none and max_date is none and execute -%}
        {%- set min_date = env_var('FLIGHTLINE_BATCH_MIN_DATE', '') or none -%}
        {%- set max_date = env_var('FLIGHTLINE_BATCH_MAX_DATE', '') or none -%}
    {%- endif -%}
    {%- do return([min_date, max_date]) -%}
{%- endmacro %}


{% macro in_batch_months(column) -%}
    {%- set min_date, max_date = batch_window() -%}
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
