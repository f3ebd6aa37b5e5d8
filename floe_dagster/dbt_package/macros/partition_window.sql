{#- The partition-window contract (docs/partition_windows.md).

    floe-dagster runs a partitioned model with the run's window as two dbt vars, by default
    `min_date` (inclusive) and `max_date` (exclusive), both 'YYYY-MM-DD HH:MM:SS' strings
    (a partition scheme's `vars` renames them). A partitioned model keeps only the rows of
    its window:

        where {{ floe_dagster.partition_window('order_date') }}

    renders `order_date >= <min> and order_date < <max>`. With neither var set (a bare
    `dbt build` outside floe-dagster, or `dbt parse`) it renders `true`: every row, the
    whole range. With only one of the two set it is a compile error naming the missing var,
    because a half window would silently build the wrong rows. -#}
{% macro partition_window(column, min_var='min_date', max_var='max_date') -%}
  {%- set bounds = floe_dagster.partition_window_bounds(min_var, max_var) -%}
  {%- if bounds is none -%}
    true
  {%- else -%}
    {{ column }} >= cast('{{ bounds[0] }}' as {{ dbt.type_timestamp() }})
    and {{ column }} < cast('{{ bounds[1] }}' as {{ dbt.type_timestamp() }})
  {%- endif -%}
{%- endmacro %}


{#- The window as a (min, max) pair of strings, or none when the run has no window. -#}
{% macro partition_window_bounds(min_var='min_date', max_var='max_date') -%}
  {%- set low = var(min_var, none) -%}
  {%- set high = var(max_var, none) -%}
  {%- if low is none and high is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if low is none or high is none -%}
    {%- set missing = min_var if low is none else max_var -%}
    {%- set given = max_var if low is none else min_var -%}
    {{ exceptions.raise_compiler_error(
        "floe_dagster.partition_window: the run sets var '" ~ given ~ "' but not '" ~ missing
        ~ "'; pass both, e.g. --vars '{\"" ~ min_var ~ "\": \"2026-01-05 00:00:00\", \""
        ~ max_var ~ "\": \"2026-01-06 00:00:00\"}', or neither for the whole range") }}
  {%- endif -%}
  {%- if (low | string) >= (high | string) -%}
    {{ exceptions.raise_compiler_error(
        "floe_dagster.partition_window: var '" ~ min_var ~ "' (" ~ low ~ ") is not before var '"
        ~ max_var ~ "' (" ~ high ~ "); the window's end is exclusive and must come after its start") }}
  {%- endif -%}
  {{ return([low | string, high | string]) }}
{%- endmacro %}


{#- Whether this run restricts partitioned models to a window (both vars set). -#}
{% macro has_partition_window(min_var='min_date', max_var='max_date') -%}
  {{ return(floe_dagster.partition_window_bounds(min_var, max_var) is not none) }}
{%- endmacro %}
