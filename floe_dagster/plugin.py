"""`DagsterOrchestratorPlugin`: this package as floe's orchestrator plugin (`floe.orchestrators`).

It implements floe-core's current `OrchestratorPlugin` ABC (plugin API 1.0) with floe's own
value types (`ValidationResult`, `ResourceSpec`, `HealthStatus`, `TransformConfig`,
`RunState`, `LineageDataset`). floe-core is not a runtime dependency of floe-dagster: this
module is loaded only through the `floe.orchestrators` entry point, i.e. by floe, and nothing
else in floe_dagster imports it. Without floe-core, importing it raises an ImportError that
says so; the rest of the package (`load_product_definitions`) works as before.

floe's loader and compiler create the plugin with no arguments. Dagster definitions always
come from a product directory (dbt assets need its manifest and profiles, not only the
artifacts), so the member functions that need a product use the one bound with
`DagsterOrchestratorPlugin.for_product(project_dir)`. In production, the `definitions.py`
that `generate_entry_point_code` writes loads the product; `create_definitions` is for
callers that already hold a product directory.
"""

from __future__ import annotations

try:
    from floe_core.lineage import LineageDataset, LineageEmitter, RunState
    from floe_core.plugin_metadata import HealthState, HealthStatus
    from floe_core.plugins.orchestrator import (
        OrchestratorPlugin,
        ResourceSpec,
        TransformConfig,
        ValidationResult,
    )
    from floe_core.schemas.compiled_artifacts import PRODUCT_NAME_PATTERN
except ImportError as exc:  # floe-core is floe's package, needed only when floe loads this plugin
    raise ImportError(
        "floe_dagster.plugin is floe's orchestrator plugin and needs floe-core "
        f"(pip install floe-core): {exc}. floe-dagster itself runs without it: a product's "
        "definitions.py calls floe_dagster.load_product_definitions(product_name, project_dir)."
    ) from exc

import json
import logging
import os
import re
import urllib.error
import urllib.request
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attr
from dagster import (
    AssetsDefinition,
    DagsterError,
    Definitions,
    ScheduleDefinition,
    SensorDefinition,
)
from pydantic import BaseModel, ValidationError

from floe_dagster.automation.healing import build_staleness_sensor
from floe_dagster.compat import is_valid_cron
from floe_dagster.contract import CompiledArtifacts
from floe_dagster.contract.artifacts import SETTINGS_PATH
from floe_dagster.contract.dagster_section import (
    DEFAULT_WORKLOAD_SIZES,
    DagsterSection,
    ExecutionConfig,
)
from floe_dagster.definitions import load_plan, load_product_definitions
from floe_dagster.errors import FloeConfigError, Problem
from floe_dagster.execution.k8s import workload_resources
from floe_dagster.loading.project import ARTIFACTS_FILE
from floe_dagster.names import model_key
from floe_dagster.observability import lineage

log = logging.getLogger("floe_dagster.plugin")

PACKAGE = "floe-dagster"
FLOE_API_VERSION = "1.0"
# The instrumentation scope of this package's spans (observability/tracing.py).
TRACER_NAME = "floe_dagster"
ENTRY_POINT_FILE = "definitions.py"
WEBSERVER_URL_ENV = "DAGSTER_WEBSERVER_URL"
DEFAULT_WEBSERVER_URL = "http://127.0.0.1:3000"
# Connect and read each get this long, so validate_connection answers within 10 s.
CONNECTION_TIMEOUT_SECONDS = 4.0
# floe's health checks should answer within 5 s (PluginMetadata.health_check, SC-007).
HEALTH_CHECK_TIMEOUT_SECONDS = 5.0
# Helm release names are DNS-1123 labels of at most 53 characters.
HELM_RELEASE_NAME_MAX = 53

_PRODUCT_NAME = re.compile(PRODUCT_NAME_PATTERN)

ENTRY_POINT_TEMPLATE = '''\
"""Dagster definitions for the floe data product {product_name!r}.

Written by floe-dagster's orchestrator plugin (`floe platform compile --generate-definitions`).
Everything the code location needs is read from compiled_artifacts.json next to this file
when it loads; regenerate rather than edit.
"""

from pathlib import Path

from floe_dagster import load_product_definitions

defs = load_product_definitions({product_literal}, Path(__file__).parent)
'''


class DagsterOrchestratorPlugin(OrchestratorPlugin):
    """floe's OrchestratorPlugin for Dagster; optionally bound to one product directory."""

    def __init__(
        self,
        project_dir: Path | str | None = None,
        artifacts: CompiledArtifacts | None = None,
        webserver_url: str | None = None,
    ) -> None:
        super().__init__()
        self.project_dir = Path(project_dir).resolve() if project_dir is not None else None
        self.artifacts = artifacts
        self.webserver_url = webserver_url or os.environ.get(
            WEBSERVER_URL_ENV, DEFAULT_WEBSERVER_URL
        )
        self._schedules: list[ScheduleDefinition] = []

    @classmethod
    def for_product(
        cls, project_dir: Path | str, webserver_url: str | None = None
    ) -> DagsterOrchestratorPlugin:
        """The plugin with the artifacts read (and validated) from the product directory."""
        path = Path(project_dir) / ARTIFACTS_FILE
        try:
            artifacts = CompiledArtifacts.model_validate_json(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise FloeConfigError.single(
                path.parent.name, str(path), "", f"cannot be read: {exc}"
            ) from None
        return cls(project_dir, artifacts, webserver_url)

    # -- PluginMetadata ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return "dagster"

    @property
    def version(self) -> str:
        return package_version(PACKAGE)

    @property
    def floe_api_version(self) -> str:
        return FLOE_API_VERSION

    @property
    def description(self) -> str:
        return (
            "Runs floe data products on Dagster (floe-dagster): dbt and dlt assets, asset "
            "checks, partitions, schedules, sensors and backfills, locally or on Kubernetes."
        )

    @property
    def dependencies(self) -> list[str]:
        """None: the warehouse, catalog and lineage backend come from the product's artifacts."""
        return []

    @property
    def tracer_name(self) -> str:
        return TRACER_NAME

    def get_config_schema(self) -> type[BaseModel]:
        """This package's settings (`plugins.orchestrator.config`), validated strictly.

        floe's `PluginRegistry.configure(ORCHESTRATOR, "dagster", config)` validates a config
        with it (floe's compiler does not call it for orchestrators today). The settings in
        effect are always the bound product's, read from its compiled_artifacts.json.
        """
        return DagsterSection

    def health_check(self, timeout: float | None = None) -> HealthStatus:
        """HEALTHY when the Dagster webserver answers `/server_info` within `timeout` seconds.

        The orchestration service is the webserver (`DAGSTER_WEBSERVER_URL`); a bound
        product's own validity is `validate` / `create_definitions`' business, not health.
        """
        budget = HEALTH_CHECK_TIMEOUT_SECONDS if timeout is None else timeout
        if budget <= 0:
            raise ValueError(f"timeout must be positive seconds, not {timeout!r}")
        ok, message, dagster_version = self._ask_webserver(budget / 2)
        details = {"url": self._base_url}
        if dagster_version:
            details["dagster_version"] = dagster_version
        state = HealthState.HEALTHY if ok else HealthState.UNHEALTHY
        return HealthStatus(state=state, message=message, details=details)

    # -- OrchestratorPlugin -----------------------------------------------------------------

    def create_definitions(self, artifacts: dict[str, Any] | CompiledArtifacts) -> Definitions:
        """Validate the artifacts, then load the product directory they were compiled into.

        `artifacts` is the parsed `compiled_artifacts.json` (a `CompiledArtifacts` is accepted
        too). Without a bound product directory this raises FloeConfigError saying how to get
        one: dbt assets need the directory's manifest and profiles.
        """
        compiled = artifacts if isinstance(artifacts, CompiledArtifacts) else _validated(artifacts)
        name = compiled.product_name
        if self.project_dir is None:
            raise FloeConfigError.single(
                name,
                ARTIFACTS_FILE,
                "",
                "Dagster definitions need the product directory (dbt manifest, "
                "profiles): create the plugin with DagsterOrchestratorPlugin.for_product(project_dir) "
                "or DagsterOrchestratorPlugin(project_dir=...), or call "
                "load_product_definitions(product_name, project_dir) in the product's definitions.py",
            )
        on_disk = self.project_dir / ARTIFACTS_FILE
        if (
            on_disk.is_file()
            and CompiledArtifacts.model_validate_json(on_disk.read_bytes()) != compiled
        ):
            raise FloeConfigError.single(
                name,
                str(on_disk),
                "",
                "differs from the artifacts passed to create_definitions: "
                "write them into the product directory (floe platform compile) or pass the matching "
                "directory",
            )
        self.artifacts = compiled
        defs = load_product_definitions(name, self.project_dir)
        if not self._schedules:
            return defs
        merged = Definitions.merge(defs, Definitions(schedules=self._schedules))
        try:
            merged.get_repository_def()
        except DagsterError as exc:
            raise FloeConfigError.single(name, str(on_disk), "schedules", str(exc)) from exc
        return merged

    def create_assets_from_transforms(
        self, transforms: list[TransformConfig]
    ) -> list[AssetsDefinition]:
        """The dbt steps (multi-assets, subsettable at run time) that build these models.

        Each transform is matched by `name` (floe's TransformConfig, or anything with a
        `name`, such as `artifacts.transforms.models`) against the bound product's models.
        """
        artifacts = self._require_artifacts()
        defs = self.create_definitions(artifacts)
        graph = defs.get_repository_def().asset_graph
        wanted = {model_key(artifacts.asset_key_prefix, t.name): t.name for t in transforms}
        missing = sorted(name for key, name in wanted.items() if not graph.has(key))
        if missing:
            raise FloeConfigError.single(
                artifacts.product_name,
                ARTIFACTS_FILE,
                "transforms.models",
                f"no dbt model named {', '.join(missing)} in the product; check the names against "
                "target/manifest.json",
            )
        assets = defs.assets or []
        return [
            a for a in assets if isinstance(a, AssetsDefinition) and wanted.keys() & set(a.keys)
        ]

    def get_helm_values(self) -> dict[str, Any]:
        """Values for helm/floe-dagster deploying the bound product's code server.

        The product is named by its safe name (`customer-360` -> `customer_360`, the code
        location's name); the chart dashes it for its Kubernetes names. Install the chart
        under `helm_release_name`.
        """
        artifacts = self._require_artifacts()
        execution = artifacts.dagster.execution
        if execution.k8s is None:
            raise FloeConfigError.single(
                artifacts.product_name,
                ARTIFACTS_FILE,
                f"{SETTINGS_PATH}.execution.k8s",
                "is missing: set `execution.mode: k8s` and `execution.k8s.image` there to deploy "
                "with Helm",
            )
        product: dict[str, Any] = {
            "name": artifacts.safe_name,
            "image": execution.k8s.image,
            "imagePullPolicy": execution.k8s.image_pull_policy,
            "resources": _k8s_resources(
                self.get_resource_requirements(execution.default_workload_size)
            ),
        }
        if execution.k8s.env_secrets:
            product["envFromSecrets"] = list(execution.k8s.env_secrets)
        if execution.k8s.secret_env:
            product["secretEnv"] = [
                {"name": ref.name, "secretName": ref.secret_name, "key": ref.key}
                for ref in execution.k8s.secret_env
            ]
        values: dict[str, Any] = {"products": [product]}
        if execution.k8s.service_account_name:
            values["serviceAccountName"] = execution.k8s.service_account_name
        return values

    @property
    def helm_release_name(self) -> str:
        """A valid Helm release name (DNS-1123 label) for the bound product: `customer-360`."""
        return helm_release_name(self._require_artifacts().safe_name)

    def validate_connection(self) -> ValidationResult:
        """Ask the webserver's /server_info; fails with what to do within 10 s."""
        ok, message, _ = self._ask_webserver(CONNECTION_TIMEOUT_SECONDS)
        if ok:
            return ValidationResult(success=True, message=message)
        return ValidationResult(
            success=False, message="Dagster webserver not reachable", errors=[message]
        )

    def get_resource_requirements(self, workload_size: str) -> ResourceSpec:
        """Requests and limits for a size, from the artifacts' table (or the documented defaults)."""
        if workload_size not in DEFAULT_WORKLOAD_SIZES:
            raise ValueError(
                f"unknown workload size {workload_size!r}: use one of {', '.join(DEFAULT_WORKLOAD_SIZES)}"
            )
        execution = self.artifacts.dagster.execution if self.artifacts else ExecutionConfig()
        resources = workload_resources(execution, workload_size)
        return ResourceSpec(
            cpu_request=resources["requests"]["cpu"],
            cpu_limit=resources["limits"]["cpu"],
            memory_request=resources["requests"]["memory"],
            memory_limit=resources["limits"]["memory"],
        )

    def emit_lineage_event(
        self,
        event_type: RunState,
        job_name: str,
        job_namespace: str | None = None,
        run_id: UUID | None = None,
        inputs: list[LineageDataset] | None = None,
        outputs: list[LineageDataset] | None = None,
        run_facets: dict[str, Any] | None = None,
        job_facets: dict[str, Any] | None = None,
        producer: str | None = None,
    ) -> UUID:
        """Send one OpenLineage event through the bound product's transport; never raises.

        The transport is the one this package's steps use (`observability.lineage` resolves
        it from floe's fields and this package's `lineage` setting). `job_namespace`
        defaults to the product's `observability.lineage_namespace`, `producer` to this
        package's producer URI. Unbound, or with lineage off, nothing is sent. Returns the
        run id used (`run_id`, or a new UUIDv7).
        """
        actual_run_id = run_id if run_id is not None else UUID(lineage.new_run_id())
        try:
            artifacts = self.artifacts
            if artifacts is None:
                log.warning(
                    "OpenLineage event for job %s not sent: the plugin is bound to no product "
                    "(use DagsterOrchestratorPlugin.for_product(project_dir))",
                    job_name,
                )
                return actual_run_id
            state = getattr(event_type, "value", event_type)
            event = lineage.run_event(
                artifacts,
                str(state),
                job_name,
                [lineage.Dataset(d.namespace, d.name) for d in inputs or []],
                [lineage.Dataset(d.namespace, d.name) for d in outputs or []],
                str(actual_run_id),
                run_facets=dict(run_facets or {}),
                job_facets=dict(job_facets or {}),
            )
            event = attr.evolve(
                event,
                producer=producer or event.producer,
                job=attr.evolve(event.job, namespace=job_namespace or event.job.namespace),
                inputs=[
                    attr.evolve(d, facets=dict(src.facets))
                    for d, src in zip(event.inputs or [], inputs or [], strict=True)
                ],
                outputs=[
                    attr.evolve(d, facets=dict(src.facets))
                    for d, src in zip(event.outputs or [], outputs or [], strict=True)
                ],
            )
            lineage.send(artifacts, event)
        except Exception as exc:  # lineage never fails the caller
            log.warning(
                "OpenLineage event for job %s not sent (%s: %s)", job_name, type(exc).__name__, exc
            )
        return actual_run_id

    def get_lineage_emitter(self) -> LineageEmitter | None:
        """None: this package emits OpenLineage through openlineage-python itself.

        floe's LineageEmitter is an async emitter over floe's own transports; this package's
        steps and `emit_lineage_event` send through the transport `observability.lineage`
        resolves from the artifacts, so a second, separately configured path is not offered.
        """
        return None

    def schedule_job(self, job_name: str, cron: str, timezone: str) -> None:
        """Add a schedule for one of the product's jobs; it appears in the next definitions."""
        if not is_valid_cron(cron):
            raise ValueError(f"malformed cron {cron!r}: use five fields, e.g. '0 6 * * *'")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {timezone!r}: use an IANA name such as 'UTC'"
            ) from None
        self._schedules.append(
            ScheduleDefinition(
                name=f"{job_name}_schedule",
                job_name=job_name,
                cron_schedule=cron,
                execution_timezone=timezone,
            )
        )

    def sensor_definition(self) -> SensorDefinition | None:
        """The bound product's staleness sensor (None unbound, or when it has none)."""
        if self.project_dir is None or self.artifacts is None:
            return None
        return build_staleness_sensor(load_plan(self.artifacts.product_name, self.project_dir))

    def generate_entry_point_code(
        self,
        product_name: str,
        output_dir: str,
        *,
        lineage_enabled: bool = False,
        iceberg_enabled: bool = False,
    ) -> str:
        """Write the product's `definitions.py` into `output_dir`; returns its path.

        The file is a thin shim calling `load_product_definitions(product_name, <its dir>)`
        with floe's product name as given (`customer-360` is fine: the loader derives the
        safe name). `lineage_enabled` and `iceberg_enabled` change nothing in it: the loader
        wires lineage, Iceberg and everything else from compiled_artifacts.json when the code
        location loads, so the file never goes stale when they change.
        """
        if not isinstance(product_name, str) or _PRODUCT_NAME.fullmatch(product_name) is None:
            raise ValueError(
                f"invalid product name {product_name!r}: floe product names match "
                f"{PRODUCT_NAME_PATTERN} (e.g. 'customer-360')"
            )
        directory = Path(output_dir)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / ENTRY_POINT_FILE
        path.write_text(
            ENTRY_POINT_TEMPLATE.format(
                product_name=product_name, product_literal=json.dumps(product_name)
            )
        )
        return str(path)

    # -- helpers ----------------------------------------------------------------------------

    @property
    def _base_url(self) -> str:
        return self.webserver_url.rstrip("/")

    def _ask_webserver(self, timeout: float) -> tuple[bool, str, str | None]:
        """(answered, message with what to do, dagster version) for GET /server_info."""
        base = self._base_url
        try:
            with urllib.request.urlopen(f"{base}/server_info", timeout=timeout) as response:
                info = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return (
                False,
                (
                    f"{base}/server_info answered HTTP {exc.code}: {base} is not a Dagster webserver; "
                    f"point {WEBSERVER_URL_ENV} at the webserver's base URL"
                ),
                None,
            )
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return (
                False,
                (
                    f"cannot reach the Dagster webserver at {base} ({reason}). Start it "
                    "(`dagster dev -w workspace.yaml`), or on Kubernetes forward it "
                    "(`kubectl port-forward svc/dagster-dagster-webserver 3000:80`), and set "
                    f"{WEBSERVER_URL_ENV} to its URL"
                ),
                None,
            )
        except ValueError:
            return (
                False,
                f"{base}/server_info did not answer JSON: {base} is not a Dagster webserver",
                None,
            )
        if not isinstance(info, dict) or "dagster_version" not in info:
            return (
                False,
                f"{base}/server_info is not Dagster's: point {WEBSERVER_URL_ENV} at the webserver",
                None,
            )
        dagster_version = str(info["dagster_version"])
        return (
            True,
            f"Dagster webserver at {base} answered (dagster {dagster_version})",
            dagster_version,
        )

    def _require_artifacts(self) -> CompiledArtifacts:
        if self.artifacts is None:
            raise FloeConfigError.single(
                "(unknown)",
                ARTIFACTS_FILE,
                "",
                "the plugin is bound to no product: create it with "
                "DagsterOrchestratorPlugin.for_product(project_dir), or call create_definitions("
                "artifacts) on a plugin created with a project_dir",
            )
        return self.artifacts


def helm_release_name(safe_name: str) -> str:
    """A DNS-1123 label from a product's safe name: lowercase, `_` as `-`, at most 53 chars."""
    name = re.sub(r"[^a-z0-9-]", "-", safe_name.lower().replace("_", "-"))
    return name[:HELM_RELEASE_NAME_MAX].strip("-") or "floe-product"


def _k8s_resources(spec: ResourceSpec) -> dict[str, dict[str, str]]:
    return {
        "requests": {"cpu": spec.cpu_request, "memory": spec.memory_request},
        "limits": {"cpu": spec.cpu_limit, "memory": spec.memory_limit},
    }


def _validated(data: dict[str, Any]) -> CompiledArtifacts:
    try:
        return CompiledArtifacts.model_validate(data)
    except ValidationError as exc:
        name = str((data.get("metadata") or {}).get("product_name", "(unknown)"))
        problems = [
            Problem(ARTIFACTS_FILE, ".".join(str(p) for p in error["loc"]), error["msg"])
            for error in exc.errors()
        ]
        raise FloeConfigError(name, problems) from None
