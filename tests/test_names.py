"""Each tag, label and key string is written once, in floe_dagster/names.py.

A second literal is how a sensor ends up filtering on a tag nobody writes, so these scan
the package's source (f-string parts included) and fail on one.
"""

import ast
import re
from pathlib import Path

from dagster import AssetExecutionContext, DailyPartitionsDefinition, asset, materialize

import floe_dagster
from floe_dagster import names

PACKAGE = Path(floe_dagster.__file__).parent
NAMES_FILE = Path(names.__file__)
TAG_LITERAL = re.compile(r"(floe|dagster|dagster-k8s)/[\w./-]*")
DEFINED = {value for key, value in vars(names).items() if key.isupper() and isinstance(value, str)}


def strays(source: str) -> list[tuple[int, str]]:
    """(line, literal) of every string that is a tag or repeats a name names.py defines."""
    return [
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (TAG_LITERAL.fullmatch(node.value) or node.value in DEFINED)
    ]


def package_strays() -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {value!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != NAMES_FILE
        for line, value in strays(path.read_text())
    ]


def test_no_module_but_names_spells_a_tag_or_key():
    assert package_strays() == []


def test_a_tag_literal_is_found():
    assert strays('tags = {"floe/product": name}') == [(1, "floe/product")]


def test_a_dagster_tag_in_an_f_string_is_found():
    assert strays('prefix = f"dagster/partition/{dimension}"') == [(1, "dagster/partition/")]


def test_the_range_separator_in_an_f_string_is_found():
    assert strays('label = f"{first}...{last}"') == [(1, "...")]


def test_prose_that_mentions_a_tag_is_not_a_literal():
    assert strays('"""Runs carry `floe/product`."""') == []


def test_range_label_round_trips():
    assert names.parse_range_label(names.range_label("2024-01-01", "2024-01-31")) == (
        "2024-01-01",
        "2024-01-31",
    )


def test_a_label_without_one_separator_is_not_a_range():
    assert [names.parse_range_label(t) for t in ("2024-01-01", "a...b...c")] == [None, None]


def test_json_digest_ignores_key_order():
    assert names.json_digest({"a": 1, "b": [2]}) == names.json_digest({"b": [2], "a": 1})


def _window_seen(partitions_def=None, **materialize_kwargs):
    seen = []

    @asset(partitions_def=partitions_def)
    def probe(context: AssetExecutionContext) -> None:
        seen.append(names.partition_window(context))

    assert materialize([probe], **materialize_kwargs).success
    return seen[0]


DAILY = DailyPartitionsDefinition(start_date="2024-01-01", timezone="UTC")


def test_the_window_of_one_partition_is_that_day():
    start, end = _window_seen(DAILY, partition_key="2024-01-02")
    assert (start.isoformat(), end.isoformat()) == (
        "2024-01-02T00:00:00+00:00",
        "2024-01-03T00:00:00+00:00",
    )


def test_the_window_of_a_range_spans_it_by_dagsters_range_tags():
    tags = {names.RANGE_START_TAG: "2024-01-02", names.RANGE_END_TAG: "2024-01-04"}
    start, end = _window_seen(DAILY, tags=tags)
    assert (start.date().isoformat(), end.date().isoformat()) == ("2024-01-02", "2024-01-05")


def test_an_unpartitioned_run_has_no_window():
    assert _window_seen() is None
