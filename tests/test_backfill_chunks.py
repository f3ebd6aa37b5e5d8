"""How a held CLI backfill is cut into runs: contiguous ranges, at most N partitions each."""

from floe_dagster.automation.backfills import chunk_ranges

DAYS = [f"2026-01-{d:02d}" for d in range(1, 11)]


def test_coalesced_policy_makes_one_range_for_contiguous_days():
    assert chunk_ranges(DAYS, set(DAYS[:6]), None) == [("2026-01-01", "2026-01-06")]


def test_chunked_policy_makes_ceil_n_over_size_ranges():
    assert chunk_ranges(DAYS, set(DAYS[:6]), 4) == [
        ("2026-01-01", "2026-01-04"),
        ("2026-01-05", "2026-01-06"),
    ]


def test_gaps_in_the_selection_are_never_bridged():
    selected = {"2026-01-01", "2026-01-02", "2026-01-05"}
    assert chunk_ranges(DAYS, selected, None) == [
        ("2026-01-01", "2026-01-02"),
        ("2026-01-05", "2026-01-05"),
    ]
