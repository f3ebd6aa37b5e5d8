"""floe's quality settings: `quality_config` and `transforms.models[].quality_checks`.

Mirrors floe_core/schemas/quality_config.py (QualityConfig) and quality_score.py (QualityCheck).
floe types dimensions and severities as string enums; here they are the same strings.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from floe_dagster.contract.floe_base import Strict

Dimension = Literal["completeness", "accuracy", "validity", "consistency", "timeliness"]
Severity = Literal["critical", "warning", "info"]


class QualityCheck(Strict):
    """One quality check floe attached to a model."""

    name: str = Field(min_length=1, description="Check id, unique within the model.")
    type: str = Field(min_length=1, description="Check type (`not_null`, `unique`, ...).")
    column: str | None = Field(default=None, description="Column checked; none for table checks.")
    dimension: Dimension = Field(description="Quality dimension the check counts towards.")
    severity: Severity = Field(default="warning", description="How much a failure weighs.")
    custom_weight: float | None = Field(
        default=None, ge=0.1, le=10.0, description="Weight overriding the severity's (0.1-10)."
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Check-specific parameters."
    )
    enabled: bool = Field(default=True, description="Whether the check runs.")


class DimensionWeights(Strict):
    """Weight of each dimension in the score; they add up to 1."""

    completeness: float = Field(default=0.25, ge=0, le=1.0, description="Completeness weight.")
    accuracy: float = Field(default=0.25, ge=0, le=1.0, description="Accuracy weight.")
    validity: float = Field(default=0.20, ge=0, le=1.0, description="Validity weight.")
    consistency: float = Field(default=0.15, ge=0, le=1.0, description="Consistency weight.")
    timeliness: float = Field(default=0.15, ge=0, le=1.0, description="Timeliness weight.")

    @model_validator(mode="after")
    def _sum_is_one(self) -> DimensionWeights:
        total = sum(
            (self.completeness, self.accuracy, self.validity, self.consistency, self.timeliness)
        )
        if not math.isclose(total, 1.0, rel_tol=1e-9):
            raise ValueError(f"dimension weights add up to {total}, not 1.0")
        return self


def _severity_weights() -> dict[Severity, float]:
    return {"critical": 3.0, "warning": 1.0, "info": 0.5}


class CalculationParameters(Strict):
    """How the score is computed from check results."""

    baseline_score: int = Field(default=70, ge=0, le=100, description="Score before any check.")
    max_positive_influence: int = Field(
        default=30, ge=0, le=100, description="Largest rise above the baseline."
    )
    max_negative_influence: int = Field(
        default=50, ge=0, le=100, description="Largest drop below the baseline."
    )
    severity_weights: dict[Severity, float] = Field(
        default_factory=_severity_weights, description="Weight of each severity."
    )


class QualityThresholds(Strict):
    """Score thresholds: below `min_score` blocks, below `warn_score` warns."""

    min_score: int = Field(default=70, ge=0, le=100, description="Lowest acceptable score.")
    warn_score: int = Field(default=85, ge=0, le=100, description="Score below which to warn.")


class GateTier(Strict):
    """What one quality tier demands."""

    min_test_coverage: float = Field(
        default=0, ge=0, le=100, description="Percent of columns that must be tested."
    )
    required_tests: list[str] = Field(default_factory=list, description="Test types required.")
    min_score: int = Field(default=0, ge=0, le=100, description="Lowest score for the tier.")
    overridable: bool = Field(default=True, description="Whether lower levels may change it.")


def _silver() -> GateTier:
    return GateTier(min_test_coverage=80, required_tests=["not_null", "unique"], min_score=75)


def _gold() -> GateTier:
    return GateTier(
        min_test_coverage=100,
        required_tests=["not_null", "unique", "accepted_values", "relationships"],
        min_score=90,
    )


class QualityGates(Strict):
    """Requirements of the bronze, silver and gold tiers."""

    bronze: GateTier = Field(default_factory=GateTier, description="Bronze (minimum).")
    silver: GateTier = Field(default_factory=_silver, description="Silver (standard).")
    gold: GateTier = Field(default_factory=_gold, description="Gold (strictest).")


class FloeQualityConfig(Strict):
    """floe's resolved quality configuration (floe's `QualityConfig`)."""

    provider: str = Field(min_length=1, description="Quality plugin (e.g. `great_expectations`).")
    quality_gates: QualityGates = Field(default_factory=QualityGates, description="Tier gates.")
    dimension_weights: DimensionWeights = Field(
        default_factory=DimensionWeights, description="Dimension weights."
    )
    calculation: CalculationParameters = Field(
        default_factory=CalculationParameters, description="Score calculation."
    )
    thresholds: QualityThresholds = Field(
        default_factory=QualityThresholds, description="Score thresholds."
    )
    check_timeout_seconds: int = Field(
        default=300, ge=1, le=3600, description="Default timeout of a check run (s)."
    )
    enabled: bool = Field(default=True, description="Whether quality validation runs.")
