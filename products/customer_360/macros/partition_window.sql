{#- Restricts a model to the run's partition window when floe-dagster passes one as vars.
    Without the vars (an unpartitioned run) every row is kept. -#}
{% macro partition_window(column) -%}
  {%- if var('min_date', none) is not none and var('max_date', none) is not none -%}
    {{ column }} >= cast('{{ var("min_date") }}' as timestamp)
    and {{ column }} < cast('{{ var("max_date") }}' as timestamp)
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}
