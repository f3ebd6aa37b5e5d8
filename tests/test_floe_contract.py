"""floe's half of the contract, checked against floe itself (floe-core 0.1.0a1, contract 0.16.0).

floe's own `CompiledArtifacts` model is the reference: every fixture (one per contract minor
version, built by `tests/fixtures/floe_contract/generate.py` with floe's models) loads here,
every field floe defines exists here with the same shape, required-ness, default and bounds,
and what floe rejects is rejected here too. The one deliberate difference is secrets: an
unmasked OTLP credential is refused, pointing to the env-var alternative, and never echoed.
"""

from __future__ import annotations

import copy
import enum
import importlib.util
import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from floe_core.schemas import compiled_artifacts as floe_ca  # a locked test dependency
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from floe_dagster.contract import CompiledArtifacts
from floe_dagster.contract import floe as ours

FIXTURES = Path(__file__).parent / "fixtures" / "floe_contract"
MINORS = range(4, 17)
MASK = "**********"
FIXTURE_FILES = sorted(FIXTURES.glob("*.json"))


def _generator() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "floe_contract_generate", FIXTURES / "generate.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# --- field trees -------------------------------------------------------------------------------

_CONSTRAINTS = ("min_length", "max_length", "gt", "ge", "lt", "le", "multiple_of", "pattern")
# Same language, written differently here (case-insensitive log level).
_EQUIVALENT_PATTERNS = {
    r"^(?i:DEBUG|INFO|WARNING|ERROR|CRITICAL)$": r"^(?i)(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
}


def _constraints(metadata: list[Any]) -> str:
    found: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, FieldInfo):
            found.update(_constraints_dict(item.metadata))
        found.update(_constraints_dict([item]))
    return "{" + ",".join(f"{k}={found[k]!r}" for k in sorted(found)) + "}" if found else ""


def _constraints_dict(metadata: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in metadata:
        for name in _CONSTRAINTS:
            value = getattr(item, name, None)
            if value is not None and not callable(value):
                out[name] = _EQUIVALENT_PATTERNS.get(value, value) if name == "pattern" else value
    return out


def signature(annotation: Any) -> str:
    """A canonical text form of a field type: unions sorted, enums as their string values."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return signature(args[0]) + _constraints(list(args[1:]))
    if origin in (typing.Union, types.UnionType):
        return "Union[" + ",".join(sorted(signature(a) for a in args)) + "]"
    if origin is typing.Literal:
        return "Literal[" + ",".join(sorted(repr(a) for a in args)) + "]"
    if origin in (list, dict, tuple, set):
        return f"{origin.__name__}[" + ",".join(signature(a) for a in args) + "]"
    if annotation is type(None):
        return "None"
    if annotation is typing.Any:
        return "Any"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "Literal[" + ",".join(sorted(repr(m.value) for m in annotation)) + "]"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model"
    return getattr(annotation, "__name__", repr(annotation))


def _default(field: FieldInfo) -> Any:
    if field.is_required():
        return "<required>"
    value = field.default_factory() if field.default_factory is not None else field.default
    assert value is not PydanticUndefined
    return to_jsonable_python(value)


def _submodels(annotation: Any, path: str) -> list[tuple[str, type[BaseModel]]]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _submodels(args[0], path)
    if origin in (typing.Union, types.UnionType):
        return [sub for arg in args for sub in _submodels(arg, path)]
    if origin is list:
        return _submodels(args[0], path + "[]")
    if origin is dict:
        return _submodels(args[1], path + "{*}")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(path, annotation)]
    return []


def field_tree(
    model: type[BaseModel],
    prefix: str = "",
    skip_below: tuple[str, ...] = (),
    stack: tuple[type[BaseModel], ...] = (),
) -> dict[str, tuple[bool, Any, str]]:
    """Every field path under `model` -> (required, default as JSON, type signature).

    Not below the paths in `skip_below`; a model that contains itself is walked once.
    """
    tree: dict[str, tuple[bool, Any, str]] = {}
    if prefix.rstrip(".") in skip_below or model in stack:
        return tree
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        tree[path] = (
            field.is_required(),
            _default(field),
            signature(field.annotation) + _constraints(field.metadata),
        )
        seen: set[tuple[str, type[BaseModel]]] = set()
        for sub_path, sub_model in _submodels(field.annotation, path):
            if (sub_path, sub_model) not in seen:
                seen.add((sub_path, sub_model))
                tree.update(field_tree(sub_model, sub_path + ".", skip_below, (*stack, model)))
    return tree


def tree_differences(
    floe_model: type[BaseModel], our_model: type[BaseModel], skip_below: tuple[str, ...] = ()
) -> dict[str, str]:
    """path -> what differs between floe's field tree and ours (nothing below `skip_below`)."""

    theirs = field_tree(floe_model, skip_below=skip_below)
    mine = field_tree(our_model, skip_below=skip_below)
    out: dict[str, str] = {}
    for path in sorted(theirs.keys() | mine.keys()):
        if path not in mine:
            out[path] = "missing here"
        elif path not in theirs:
            out[path] = "not in floe"
        else:
            for label, a, b in zip(
                ("required", "default", "type"), theirs[path], mine[path], strict=True
            ):
                if a != b:
                    out[path] = f"{label}: floe {a!r}, here {b!r}"
                    break
    return out


# Where this package's top level deliberately differs from floe's, and why.
SECRET_STR = "type: floe 'Union[None,SecretStr]', here 'Union[None,str]'"
TOP_LEVEL_DIFFERENCES = {
    # floe: SecretStr; here only the mask floe writes (the value comes by env-var reference).
    "observability.telemetry.authentication.api_key": SECRET_STR,
    "observability.telemetry.authentication.bearer_token": SECRET_STR,
    # floe: an ODCS model (third-party standard); here the ODCS document as a JSON object.
    "data_contracts": "type: floe 'list[model]', here 'list[dict[str,Any]]'",
    # floe: optional; this package needs the compute and orchestrator plugins to run anything.
    "plugins": "required: floe False, here True",
    # floe: any plugin type; this package is the `dagster` orchestrator.
    "plugins.orchestrator.type": "type: floe 'str{min_length=1}', here \"Literal['dagster']\"",
    # floe: an open object; here this package's own settings, validated strictly.
    "plugins.orchestrator.config": (
        "type: floe 'Union[None,dict[str,Any]]', here 'Union[None,model]'"
    ),
}
# Subtrees not compared path by path (the reasons are above).
TOP_LEVEL_SKIP = ("data_contracts[]", "plugins.orchestrator.config")

# floe's sub-models next to ours, for the roots this module defines.
SUB_MODELS = [
    (floe_ca.CompilationMetadata, ours.CompilationMetadata),
    (floe_ca.ProductIdentity, ours.ProductIdentity),
    (floe_ca.ManifestRef, ours.ManifestRef),
    (floe_ca.ObservabilityConfig, ours.ObservabilityConfig),
    (floe_ca.ResolvedPlugins, ours.ResolvedPlugins),
    (floe_ca.ResolvedTransforms, ours.ResolvedTransforms),
    (floe_ca.ResolvedGovernance, ours.ResolvedGovernance),
    (floe_ca.EnforcementResultSummary, ours.EnforcementResultSummary),
    (floe_ca.DeploymentConfig, ours.DeploymentConfig),
    (floe_ca.IngestionOutputTable, ours.IngestionOutputTable),
    (floe_ca.QualityConfig, ours.FloeQualityConfig),
]
SUB_MODEL_DIFFERENCES = {
    "ObservabilityConfig": {
        "telemetry.authentication.api_key": SECRET_STR,
        "telemetry.authentication.bearer_token": SECRET_STR,
    }
}


def floe_accepts(data: dict[str, Any]) -> bool:
    try:
        floe_ca.CompiledArtifacts.model_validate(copy.deepcopy(data))
    except ValidationError:
        return False
    return True


def ours_accepts(data: dict[str, Any]) -> bool:
    try:
        CompiledArtifacts.model_validate(copy.deepcopy(data))
    except ValidationError:
        return False
    return True


def _subset_mismatches(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` lacks or changes a value of `expected` (extra keys in `actual` are fine)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [path or "<root>"]
        return [
            m
            for key, value in expected.items()
            for m in (
                _subset_mismatches(value, actual[key], f"{path}.{key}".lstrip("."))
                if key in actual
                else [f"{path}.{key}".lstrip(".") + " (dropped)"]
            )
        ]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [path]
        return [
            m
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for m in _subset_mismatches(e, a, f"{path}[{i}]")
        ]
    return [] if expected == actual and type(expected) is type(actual) else [path]


# --- fixtures ----------------------------------------------------------------------------------


def test_there_is_a_fixture_for_every_contract_minor_version_from_0_4_to_0_16() -> None:
    versions = {load(f.name)["version"] for f in FIXTURE_FILES}
    assert versions == {f"0.{minor}.0" for minor in MINORS}
    for minor in MINORS:
        assert load(f"v0_{minor}_0.json")["version"] == f"0.{minor}.0"


def test_the_fixtures_are_what_the_generator_builds_with_floes_models_today() -> None:
    built = _generator().fixtures()
    assert sorted(built) == [f.name for f in FIXTURE_FILES]
    for name, data in built.items():
        assert load(name) == data, f"{name} is stale: run tests/fixtures/floe_contract/generate.py"


def test_a_fixture_leaves_out_the_fields_later_versions_introduced() -> None:
    old, new = load("v0_4_0.json"), load("v0_16_0_polaris.json")
    assert "deployment" not in old and "ingestion_outputs" not in old
    assert (
        "lineage_backend" not in old["plugins"]
        and "secrets_scanned" not in old["enforcement_result"]
    )
    assert "identity_modes" not in load("v0_11_0.json")["deployment"]["storage"]["capabilities"]
    assert new["deployment"]["catalog"]["polaris"]["credential_refs"]
    assert new["ingestion_outputs"] and new["plugins"]["secrets"] and new["plugins"]["identity"]


def test_some_fixtures_use_a_hyphenated_product_name() -> None:
    assert load("v0_16_0.json")["metadata"]["product_name"] == "customer-360"


@pytest.mark.parametrize("name", [f.name for f in FIXTURE_FILES])
def test_every_fixture_is_valid_under_floes_own_model(name: str) -> None:
    floe_ca.CompiledArtifacts.model_validate(load(name))


@pytest.mark.parametrize("name", [f.name for f in FIXTURE_FILES])
def test_every_fixture_is_valid_here(name: str) -> None:
    CompiledArtifacts.model_validate(load(name))


@pytest.mark.parametrize("name", [f.name for f in FIXTURE_FILES])
def test_every_value_floe_wrote_survives_loading_here_unchanged(name: str) -> None:
    data = load(name)
    dumped = CompiledArtifacts.model_validate(data).model_dump(mode="json", by_alias=True)
    assert _subset_mismatches(data, dumped) == []


@pytest.mark.parametrize("name", [f.name for f in FIXTURE_FILES])
def test_every_fixture_is_valid_under_the_json_schema_this_package_publishes(name: str) -> None:
    import jsonschema

    from floe_dagster.contract.artifacts import json_schema

    jsonschema.Draft202012Validator(json_schema()).validate(load(name))


# --- field-tree parity -------------------------------------------------------------------------


def test_the_field_tree_matches_floes_except_where_documented() -> None:
    differences = tree_differences(floe_ca.CompiledArtifacts, CompiledArtifacts, TOP_LEVEL_SKIP)
    assert differences == TOP_LEVEL_DIFFERENCES


@pytest.mark.parametrize(("floe_model", "our_model"), SUB_MODELS, ids=lambda m: m.__name__)
def test_each_floe_section_has_every_field_with_its_shape_default_and_bounds(
    floe_model: type[BaseModel], our_model: type[BaseModel]
) -> None:
    expected = SUB_MODEL_DIFFERENCES.get(floe_model.__name__, {})
    assert tree_differences(floe_model, our_model) == expected


def test_the_field_tree_walk_reaches_floes_deepest_fields() -> None:
    tree = field_tree(floe_ca.CompiledArtifacts)
    assert "deployment.catalog.dbt.iceberg_rest.oauth2.client_secret_env" in tree
    assert "deployment.catalog.polaris.credential_refs{*}.key" in tree
    assert "transforms.models[].quality_checks[].custom_weight" in tree
    assert "quality_config.calculation.severity_weights" in tree
    assert len(tree) > 400


def test_every_sections_model_is_strict_frozen_and_hides_input() -> None:
    for path, model in _all_models(CompiledArtifacts):
        config = model.model_config
        assert config.get("extra") == "forbid", path or model.__name__
        assert config.get("frozen") is True, path or model.__name__
        assert config.get("hide_input_in_errors") is True, path or model.__name__


def _all_models(model: type[BaseModel], path: str = "") -> list[tuple[str, type[BaseModel]]]:
    out = [(path, model)]
    for name, field in model.model_fields.items():
        for sub_path, sub in _submodels(field.annotation, f"{path}.{name}"):
            out.extend(_all_models(sub, sub_path))
    return out


# --- rejection parity --------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[leaf]
        elif isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value

    return mutate


_DELETE = object()
POLARIS, GLUE = "v0_16_0_polaris.json", "v0_16_0.json"
DEV_OUTPUT = "dbt_profiles.customer_360.outputs.dev"

INVALID = {
    "product name starting with a digit": (GLUE, _set("metadata.product_name", "360-customers")),
    "product name with a space": (GLUE, _set("metadata.product_name", "customer 360")),
    "product name longer than 128": (GLUE, _set("metadata.product_name", "c" * 129)),
    "snapshot_keep_last 0": (GLUE, _set("governance.snapshot_keep_last", 0)),
    "snapshot_keep_last 101": (GLUE, _set("governance.snapshot_keep_last", 101)),
    "default_ttl_hours 8761": (GLUE, _set("governance.default_ttl_hours", 8761)),
    "unknown stale_table_recovery_mode": (
        GLUE,
        _set("governance.stale_table_recovery_mode", "ignore"),
    ),
    "unknown log level": (GLUE, _set("observability.telemetry.logging.log_level", "verbose")),
    "service_version not starting with semver": (
        GLUE,
        _set("observability.telemetry.resource_attributes.service_version", "v1"),
    ),
    "unknown lineage_transport": (GLUE, _set("observability.lineage_transport", "kafka")),
    "batch larger than queue": (
        GLUE,
        _set("observability.telemetry.batch_processor.max_export_batch_size", 8192),
    ),
    "api_key auth without api_key": (
        GLUE,
        _set("observability.telemetry.authentication.api_key", None),
    ),
    "kubernetes-secret credential ref without key": (
        POLARIS,
        _set("deployment.catalog.polaris.credential_refs.client_id.key", _DELETE),
    ),
    "environment credential ref with a key": (
        POLARIS,
        _set("deployment.catalog.polaris.credential_refs.scope.key", "scope"),
    ),
    "catalog provider glue without glue": (GLUE, _set("deployment.catalog.glue", None)),
    "catalog provider polaris without polaris": (POLARIS, _set("deployment.catalog.polaris", None)),
    "polaris details under provider glue": (POLARIS, _set("deployment.catalog.provider", "glue")),
    "glue catalog_id not 12 digits": (GLUE, _set("deployment.catalog.glue.catalog_id", "12345")),
    "glue endpoint with user and password": (
        GLUE,
        _set("deployment.catalog.glue.endpoint", "https://user:pw@glue.eu-west-1.amazonaws.com"),
    ),
    "logical_table without namespace": (GLUE, _set("ingestion_outputs.0.logical_table", "orders")),
    "physical_table with three parts": (GLUE, _set("ingestion_outputs.0.physical_table", "a.b.c")),
    "absolute local source_path": (
        GLUE,
        _set("ingestion_outputs.1.source_path", "/data/customers.csv"),
    ),
    "https source_path": (
        GLUE,
        _set("ingestion_outputs.1.source_path", "https://example.com/c.csv"),
    ),
    "source_path with a token": (
        GLUE,
        _set("ingestion_outputs.0.source_path", "s3://b/orders?token=x"),
    ),
    "storage credentials environment without env_refs": (
        GLUE,
        _set("deployment.storage.credentials", {"mode": "environment"}),
    ),
    "storage credentials kubernetes-secret with env_refs too": (
        GLUE,
        _set("deployment.storage.credentials.env_refs", {"key": "AWS_KEY"}),
    ),
    "storage credentials workload-identity without service account": (
        GLUE,
        _set("deployment.storage.credentials", {"mode": "workload-identity"}),
    ),
    "storage credentials none with a secret_ref": (
        GLUE,
        _set("deployment.storage.credentials.mode", "none"),
    ),
    "secret name that is not a DNS subdomain": (
        GLUE,
        _set("deployment.storage.credentials.secret_ref.name", "Minio_Creds"),
    ),
    "secret in a runtime fragment": (
        GLUE,
        _set(
            "deployment.storage.runtime.dagster_resources", {"s3": {"aws_secret_access_key": "x"}}
        ),
    ),
    "default admin login in a pyiceberg property": (
        GLUE,
        _set("deployment.storage.runtime.pyiceberg_properties", {"s3.access-key-id": "minioadmin"}),
    ),
    "password in a dbt storage fragment": (
        GLUE,
        _set("deployment.storage.dbt.profile_fragment", {"password": "x"}),
    ),
    "unknown dlt credentials key": (
        GLUE,
        _set(
            "deployment.ingestion.dlt.destination_filesystem.credentials.aws_access_key_id", "AKIA"
        ),
    ),
    "password key in a plugin config": (GLUE, _set("plugins.compute.config.password", "x")),
    "api key in a nested plugin config": (
        GLUE,
        _set("plugins.semantic.config", {"auth": {"api-key": "x"}}),
    ),
    "inline password in dbt_profiles": (GLUE, _set(f"{DEV_OUTPUT}.password", "hunter2")),
    "inline token in dbt_profiles": (GLUE, _set(f"{DEV_OUTPUT}.token", "abc")),
    "credentials in a dbt_profiles URL": (
        GLUE,
        _set(f"{DEV_OUTPUT}.host", "https://u:p@db.example.com"),
    ),
    "dimension weights not adding up to 1": (
        GLUE,
        _set("quality_config.dimension_weights.timeliness", 0.5),
    ),
    "check_timeout_seconds 0": (GLUE, _set("quality_config.check_timeout_seconds", 0)),
    "quality check custom_weight below 0.1": (
        GLUE,
        _set("transforms.models.0.quality_checks.0.custom_weight", 0.05),
    ),
    "unknown quality dimension": (
        GLUE,
        _set("transforms.models.0.quality_checks.0.dimension", "beauty"),
    ),
    "plugin version not semver": (GLUE, _set("plugins.secrets.version", "1.0")),
    "unknown field in a deployment binding": (GLUE, _set("deployment.storage.colour", "blue")),
    "no transforms models": (GLUE, _set("transforms.models", [])),
}

VALID = {
    "dbt_profiles password as env_var() reference": (
        GLUE,
        _set(f"{DEV_OUTPUT}.password", "{{ env_var('PG_PASSWORD', '') }}"),
    ),
    "dbt_profiles secret naming a secret": (GLUE, _set(f"{DEV_OUTPUT}.secret", "crm_s3")),
    "dbt_profiles plain endpoint under a token-ish key": (
        GLUE,
        _set(f"{DEV_OUTPUT}.token_endpoint", "https://auth.example.com/oauth/token"),
    ),
    "plugin config naming a secret reference": (
        GLUE,
        _set("plugins.compute.config.connection_secret_ref", "duck"),
    ),
    "lowercase log level": (GLUE, _set("observability.telemetry.logging.log_level", "warning")),
    "primary key as a single column": (GLUE, _set("ingestion_outputs.0.primary_key", "order_id")),
    "none credential binding": (GLUE, _set("deployment.storage.credentials", {"mode": "none"})),
    "relative source_path with a subdirectory": (
        GLUE,
        _set("ingestion_outputs.1.source_path", "data/in/c.csv"),
    ),
    "snapshot_keep_last 100": (GLUE, _set("governance.snapshot_keep_last", 100)),
}


def _mutated(case: tuple[str, Callable[[dict[str, Any]], None]]) -> dict[str, Any]:
    name, mutate = case
    data = load(name)
    mutate(data)
    return data


@pytest.mark.parametrize("case", INVALID.values(), ids=INVALID.keys())
def test_what_floe_rejects_is_rejected_here(
    case: tuple[str, Callable[[dict[str, Any]], None]],
) -> None:
    data = _mutated(case)
    assert not floe_accepts(data), "floe accepts this mutation; it is not a rejection case"
    assert not ours_accepts(data)


@pytest.mark.parametrize("case", VALID.values(), ids=VALID.keys())
def test_what_floe_accepts_is_accepted_here(
    case: tuple[str, Callable[[dict[str, Any]], None]],
) -> None:
    data = _mutated(case)
    assert floe_accepts(data)
    assert ours_accepts(data)


# --- secrets -----------------------------------------------------------------------------------

AUTH = "observability.telemetry.authentication"
SECRET = "sk-live-0123456789abcdef-DO-NOT-LOG"


def test_a_masked_api_key_is_accepted_and_stays_masked() -> None:
    data = load(GLUE)
    assert data["observability"]["telemetry"]["authentication"]["api_key"] == MASK
    auth = CompiledArtifacts.model_validate(data).observability.telemetry.authentication
    assert auth is not None and auth.api_key == MASK and auth.bearer_token == MASK


@pytest.mark.parametrize("field", ["api_key", "bearer_token"])
def test_an_unmasked_credential_is_rejected_naming_the_field_and_the_env_var_alternative(
    field: str,
) -> None:
    data = _mutated((GLUE, _set(f"{AUTH}.{field}", SECRET)))
    with pytest.raises(ValidationError) as caught:
        CompiledArtifacts.model_validate(data)
    text = str(caught.value)
    assert f"{AUTH}.{field}" in text
    assert "credential_env" in text and "environment variable" in text


@pytest.mark.parametrize("field", ["api_key", "bearer_token"])
def test_an_unmasked_credential_never_appears_in_the_error(field: str) -> None:
    data = _mutated((GLUE, _set(f"{AUTH}.{field}", SECRET)))
    with pytest.raises(ValidationError) as caught:
        CompiledArtifacts.model_validate(data)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert SECRET not in json.dumps(
        caught.value.errors(include_input=False, include_url=False), default=str
    )


def test_floe_itself_would_take_the_unmasked_value_which_is_the_deliberate_difference() -> None:
    data = _mutated((GLUE, _set(f"{AUTH}.api_key", SECRET)))
    loaded = floe_ca.CompiledArtifacts.model_validate(data)
    assert isinstance(loaded.observability.telemetry.authentication.api_key, SecretStr)


def test_a_secret_in_a_fragment_is_reported_by_path_without_its_value() -> None:
    leaked = "minioadmin-0123456789"
    data = _mutated(
        (GLUE, _set("deployment.storage.runtime.pyiceberg_properties", {"s3.key": leaked}))
    )
    with pytest.raises(ValidationError) as caught:
        CompiledArtifacts.model_validate(data)
    text = str(caught.value)
    assert "runtime.s3.key" in text and leaked not in text


def test_data_contracts_are_kept_whole_as_the_odcs_documents_floe_wrote() -> None:
    data = load(GLUE)
    loaded = CompiledArtifacts.model_validate(data)
    assert [dict(c) for c in loaded.data_contracts] == data["data_contracts"]
    assert data["data_contracts"][0]["schema"][0]["name"] == "customers"


# --- the secret-material rules, value by value against floe's -----------------------------------


def _accepts(model: type[BaseModel], **fields: Any) -> bool:
    try:
        model(**copy.deepcopy(fields))
    except ValidationError:
        return False
    return True


FRAGMENTS = [
    {"endpoint": "http://minio:9000"},
    {"endpoint": "http://user:pw@minio:9000"},
    {"endpoint": "https://minio:9000/?X-Amz-Signature=abc"},
    {"endpoint": "https://minio:9000/?region=eu&sig=abc"},
    {"endpoint": "https://minio:9000/#token=abc"},
    {"s3.path-style-access": "true"},
    {"s3.access-key-id": "AKIA"},
    {"s3": {"aws_secret_access_key": "x"}},
    {"login": "minioadmin"},
    {"login": "admin"},
    {"bucket": "admin-bucket"},
    {"bucket": "badminton"},
    {"note": "use the token from vault"},
    {"note": "raw-secret-value"},
    {"list": ["ok", {"nested": {"Password": "x"}}]},
    {"list": ["ok", "bearer abc"]},
    {"count": 3, "ratio": 0.5, "flag": True, "none": None},
    {"bearer_header": "x"},
    {"privateKey": "x"},
]


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=[json.dumps(f) for f in FRAGMENTS])
def test_a_runtime_fragment_is_refused_exactly_when_floe_refuses_it(
    fragment: dict[str, Any],
) -> None:
    assert _accepts(
        ours.DagsterStorageBinding, resource_key="s3", asset_io_manager_key="io", resources=fragment
    ) == _accepts(
        floe_ca.DagsterStorageBinding,
        resource_key="s3",
        asset_io_manager_key="io",
        resources=fragment,
    )


PLUGIN_CONFIGS = [
    {"path": "target/warehouse.duckdb"},
    {"password": "x"},
    {"Client-Secret": "x"},
    {"auth": {"api_key": "x"}},
    {"items": [{"refresh_token": "x"}]},
    {"connection_secret_ref": "duckdb-creds"},
    {"token_url": "https://auth/token"},
    {"secret_name": "s"},
    {"accessKey": "x"},
]


@pytest.mark.parametrize("config", PLUGIN_CONFIGS, ids=[json.dumps(c) for c in PLUGIN_CONFIGS])
def test_a_plugin_config_is_refused_exactly_when_floe_refuses_it(config: dict[str, Any]) -> None:
    assert _accepts(ours.PluginRef, type="duckdb", version="0.1.0", config=config) == _accepts(
        floe_ca.PluginRef, type="duckdb", version="0.1.0", config=config
    )


PROFILES = [
    {"p": {"outputs": {"dev": {"password": "{{ env_var('PG_PASSWORD') }}"}}}},
    {"p": {"outputs": {"dev": {"password": "{{env_var(\"PG_PASSWORD\", 'x')}}"}}}},
    {"p": {"outputs": {"dev": {"password": "hunter2"}}}},
    {"p": {"outputs": {"dev": {"password": "{{ env_var('PG-PASSWORD') }}"}}}},
    {"p": {"outputs": {"dev": {"token_uri": "https://auth.example.com/token"}}}},
    {"p": {"outputs": {"dev": {"token_uri": "https://auth.example.com/token?token=x"}}}},
    {"p": {"outputs": {"dev": {"secret": "crm_s3"}}}},
    {"p": {"outputs": {"dev": {"secret": "my-password"}}}},
    {"p": {"outputs": {"dev": {"secrets": [{"type": "s3", "secret": "{{ env_var('S') }}"}]}}}},
    {"p": {"outputs": {"dev": {"secrets": [{"type": "s3", "key_secret": "abc"}]}}}},
    {"p": {"outputs": {"dev": {"credentials": {"user": "u"}}}}},
    {"p": {"outputs": {"dev": {"host": "https://u:p@db"}}}},
    {"p": {"outputs": {"dev": {"user": "minioadmin"}}}},
    {"p": {"outputs": {"dev": {"path": "{product_slug}.duckdb", "threads": 4}}}},
]


@pytest.mark.parametrize("profiles", PROFILES, ids=[json.dumps(p) for p in PROFILES])
def test_dbt_profiles_are_refused_exactly_when_floe_refuses_them(profiles: dict[str, Any]) -> None:
    data = load(GLUE)
    data["dbt_profiles"] = profiles
    expected = floe_accepts(data)
    try:
        TypeAdapter(ours.DbtProfiles).validate_python(copy.deepcopy(profiles))
    except ValidationError:
        assert not expected
    else:
        assert expected


SOURCE_PATHS = [
    "data/orders.csv",
    "./data/orders.csv",
    "/data/orders.csv",
    " data/orders.csv",
    "s3://bucket/orders/",
    "s3:///orders/",
    "gs://bucket/x.parquet",
    "az://container/x.jsonl",
    "https://example.com/x.csv",
    "s3://key@bucket/x",
    "s3://bucket/x?X-Amz-Credential=abc",
    "data/x.csv#api_key",
    "file://data/x.csv",
    "C:/data/x.csv",
]


@pytest.mark.parametrize("source_path", SOURCE_PATHS)
def test_an_ingestion_source_path_is_refused_exactly_when_floe_refuses_it(source_path: str) -> None:
    fields = {
        "source_name": "raw", "source_type": "filesystem", "logical_table": "raw.orders",
        "physical_table": "raw.orders", "file_format": "csv", "source_path": source_path,
        "write_mode": "append", "schema_contract": "evolve",
    }  # fmt: skip
    assert _accepts(ours.IngestionOutputTable, **fields) == _accepts(
        floe_ca.IngestionOutputTable, **fields
    )


TABLES = [
    "raw.orders",
    "orders",
    "a.b.c",
    "raw.",
    ".orders",
    "raw. orders",
    "raw.1orders",
    "raw.or-ders",
    "_r.o_",
]


@pytest.mark.parametrize("table", TABLES)
def test_an_ingestion_table_identifier_is_refused_exactly_when_floe_refuses_it(table: str) -> None:
    fields = {
        "source_name": "raw", "source_type": "filesystem", "logical_table": table,
        "physical_table": "raw.orders", "file_format": "csv", "source_path": "d/x.csv",
        "write_mode": "append", "schema_contract": "evolve",
    }  # fmt: skip
    assert _accepts(ours.IngestionOutputTable, **fields) == _accepts(
        floe_ca.IngestionOutputTable, **fields
    )


DLT_FILESYSTEMS = [
    {
        "bucket_url": "s3://b",
        "credentials": {"endpoint_url": "http://minio:9000", "region_name": "eu"},
    },
    {"bucket_url": "s3://b", "credentials": {"aws_access_key_id": "AKIA"}},
    {"bucket_url": "s3://b", "credentials": {"profile": "default"}},
    {"bucket_url": "s3://b", "credentials": {"endpoint_url": "http://u:p@minio:9000"}},
    {"bucket_url": "s3://b", "credentials": "inline"},
    {"bucket_url": "s3://b", "ratio": float("nan")},
]


@pytest.mark.parametrize("filesystem", DLT_FILESYSTEMS, ids=[repr(f) for f in DLT_FILESYSTEMS])
def test_a_dlt_filesystem_map_is_refused_exactly_when_floe_refuses_it(
    filesystem: dict[str, Any],
) -> None:
    fields = {
        "plugin_name": "dlt",
        "destination": "filesystem",
        "table_format": "iceberg",
        "source_filesystem": filesystem,
    }
    assert _accepts(ours.DltIngestionBinding, **fields) == _accepts(
        floe_ca.DltIngestionBinding, **fields
    )


K8S_NAMES = [
    ("minio-creds", "floe"),
    ("Minio", "floe"),
    ("a.b-c", "floe"),
    ("x" * 254, "floe"),
    ("ok", "a.b"),
    ("ok", "n" * 64),
]


@pytest.mark.parametrize(("name", "namespace"), K8S_NAMES)
def test_a_kubernetes_secret_reference_is_refused_exactly_when_floe_refuses_it(
    name: str, namespace: str
) -> None:
    assert _accepts(ours.KubernetesSecretRef, name=name, namespace=namespace) == _accepts(
        floe_ca.KubernetesSecretRef, name=name, namespace=namespace
    )
