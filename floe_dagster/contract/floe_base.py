"""Shared building blocks for the floe half of the contract: the strict base and common types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

SEMVER = r"^\d+\.\d+\.\d+$"
ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
PRODUCT_NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]*$"

NonEmptyString = Annotated[str, Field(min_length=1)]
"""A string with at least one character (floe's `NonEmptyString`)."""

AwsAccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
"""A twelve-digit AWS account id."""

SECRET_MASK = "**********"
"""How pydantic (and so floe) writes a `SecretStr` in JSON."""


class Strict(BaseModel):
    """Base: frozen, unknown fields rejected, so a typo is an error rather than a silent default.

    Inputs are never echoed in validation errors, so a misplaced secret does not end up in a log.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)
