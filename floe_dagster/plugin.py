"""`DagsterOrchestratorPlugin`: this package as floe's orchestrator plugin (`floe.orchestrators`).

floe-core is not a dependency, so the interface's small value types (`ValidationResult`,
`ResourceSpec`) are defined here with the fields floe reads. Definitions always come from
a product directory: dbt assets need its manifest and profiles, not just the artifacts.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from dagster import AssetsDefinition, DagsterError, Definitions, ScheduleDefinition

from floe_dagster.assets.keys import model_key
from floe_dagster.compat import is_valid_cron
from floe_dagster.contract import CompiledArtifacts
from floe_dagster.contract.dagster_section import DEFAULT_WORKLOAD_SIZES, ExecutionConfig
from floe_dagster.contract.floe import ResolvedModel
from floe_dagster.definitions import load_product_definitions
from floe_dagster.errors import FloeConfigError, Problem
from floe_dagster.execution.k8s import workload_resources
from floe_dagster.loading.project import ARTIFACTS_FILE
from floe_dagster.observability.lineage import Dataset, emit_lineage_event

WEBSERVER_URL_ENV = "DAGSTER_WEBSERVER_URL"
DEFAULT_WEBSERVER_URL = "http://127.0.0.1:3000"
# Connect and read each get this long, so validate_connection answers within 10 s.
CONNECTION_TIMEOUT_SECONDS = 4.0


@dataclass(frozen=True)
class ValidationResult:
    """Whether the orchestrator answered; every error says what to do about it."""

    success: bool
    errors: list[str] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceSpec:
    """Kubernetes requests and limits for one workload size."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str

    def to_k8s(self) -> dict[str, dict[str, str]]:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


class DagsterOrchestratorPlugin:
    """floe's OrchestratorPlugin for Dagster, bound to one product directory."""

    name = "dagster"
    version = package_version("floe-dagster")
    floe_api_version = "0.4"

    def __init__(
        self,
        project_dir: Path | str | None = None,
        artifacts: CompiledArtifacts | None = None,
        webserver_url: str | None = None,
    ) -> None:
        self.project_dir = Path(project_dir).resolve() if project_dir is not None else None
        self.artifacts = artifacts
        self.webserver_url = webserver_url or os.environ.get(WEBSERVER_URL_ENV, DEFAULT_WEBSERVER_URL)
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
            raise FloeConfigError.single(path.parent.name, str(path), "", f"cannot be read: {exc}") from None
        return cls(project_dir, artifacts, webserver_url)

    def create_definitions(self, artifacts: CompiledArtifacts | dict[str, Any]) -> Definitions:
        """Validate the artifacts, then load the product directory they were compiled into."""
        if not isinstance(artifacts, CompiledArtifacts):
            artifacts = _validated(artifacts)
        name = artifacts.product_name
        if self.project_dir is None:
            raise FloeConfigError.single(
                name, ARTIFACTS_FILE, "", "Dagster definitions need the product directory (dbt manifest, "
                "profiles): create the plugin with DagsterOrchestratorPlugin(project_dir=...), or call "
                "load_product_definitions(product_name, project_dir) in the product's definitions.py",
            )
        on_disk = self.project_dir / ARTIFACTS_FILE
        if on_disk.is_file() and CompiledArtifacts.model_validate_json(on_disk.read_bytes()) != artifacts:
            raise FloeConfigError.single(
                name, str(on_disk), "", "differs from the artifacts passed to create_definitions: "
                "write them into the product directory (floe compile) or pass the matching directory",
            )
        self.artifacts = artifacts
        defs = load_product_definitions(name, self.project_dir)
        if not self._schedules:
            return defs
        merged = Definitions.merge(defs, Definitions(schedules=self._schedules))
        try:
            merged.get_repository_def()
        except DagsterError as exc:
            raise FloeConfigError.single(name, str(on_disk), "schedules", str(exc)) from exc
        return merged

    def create_assets_from_transforms(self, transforms: list[ResolvedModel]) -> list[AssetsDefinition]:
        """The dbt steps (multi-assets, subsettable at run time) that build these models."""
        artifacts = self._require_artifacts()
        defs = self.create_definitions(artifacts)
        graph = defs.get_repository_def().asset_graph
        wanted = {model_key(artifacts.asset_key_prefix, t.name): t.name for t in transforms}
        missing = sorted(name for key, name in wanted.items() if not graph.has(key))
        if missing:
            raise FloeConfigError.single(
                artifacts.product_name, ARTIFACTS_FILE, "transforms.models",
                f"no dbt model named {', '.join(missing)} in the product; check the names against "
                "target/manifest.json",
            )
        assets = defs.assets or []
        return [a for a in assets if isinstance(a, AssetsDefinition) and wanted.keys() & set(a.keys)]

    def get_helm_values(self) -> dict[str, Any]:
        """Values for helm/floe-dagster deploying this product's code server."""
        artifacts = self._require_artifacts()
        execution = artifacts.dagster.execution
        if execution.k8s is None:
            raise FloeConfigError.single(
                artifacts.product_name, ARTIFACTS_FILE, "dagster.execution.k8s",
                "is missing: set `execution.mode: k8s` and `execution.k8s.image` to deploy with Helm",
            )
        product: dict[str, Any] = {
            "name": artifacts.product_name,
            "image": execution.k8s.image,
            "imagePullPolicy": execution.k8s.image_pull_policy,
            "resources": self.get_resource_requirements(execution.default_workload_size).to_k8s(),
        }
        if execution.k8s.env_secrets:
            product["envFromSecrets"] = list(execution.k8s.env_secrets)
        values: dict[str, Any] = {"products": [product]}
        if execution.k8s.service_account_name:
            values["serviceAccountName"] = execution.k8s.service_account_name
        return values

    def validate_connection(self) -> ValidationResult:
        """Ask the webserver's /server_info; fails with what to do within 10 s."""
        base = self.webserver_url.rstrip("/")
        try:
            url = f"{base}/server_info"
            with urllib.request.urlopen(url, timeout=CONNECTION_TIMEOUT_SECONDS) as response:
                info = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return _failed(f"{base}/server_info answered HTTP {exc.code}: {base} is not a Dagster webserver; "
                           f"point {WEBSERVER_URL_ENV} at the webserver's base URL")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return _failed(
                f"cannot reach the Dagster webserver at {base} ({reason}). Start it "
                "(`dagster dev -w workspace.yaml`), or on Kubernetes forward it "
                "(`kubectl port-forward svc/dagster-dagster-webserver 3000:80`), and set "
                f"{WEBSERVER_URL_ENV} to its URL"
            )
        except ValueError:
            return _failed(f"{base}/server_info did not answer JSON: {base} is not a Dagster webserver")
        if not isinstance(info, dict) or "dagster_version" not in info:
            return _failed(f"{base}/server_info is not Dagster's: point {WEBSERVER_URL_ENV} at the webserver")
        return ValidationResult(True, details={"url": base, "dagster_version": str(info["dagster_version"])})

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
        self, event_type: str, job: str, inputs: list[Dataset], outputs: list[Dataset]
    ) -> None:
        """Through the transport the artifacts configure; never raises."""
        emit_lineage_event(self._require_artifacts(), event_type, job, inputs, outputs)

    def schedule_job(self, job_name: str, cron: str, timezone: str) -> None:
        """Add a schedule for one of the product's jobs; it appears in the next definitions."""
        if not is_valid_cron(cron):
            raise ValueError(f"malformed cron {cron!r}: use five fields, e.g. '0 6 * * *'")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {timezone!r}: use an IANA name such as 'UTC'") from None
        self._schedules.append(
            ScheduleDefinition(
                name=f"{job_name}_schedule",
                job_name=job_name,
                cron_schedule=cron,
                execution_timezone=timezone,
            )
        )

    def _require_artifacts(self) -> CompiledArtifacts:
        if self.artifacts is None:
            raise FloeConfigError.single(
                "(unknown)", ARTIFACTS_FILE, "", "the plugin has no artifacts yet: call create_definitions("
                "artifacts) first, or create it with DagsterOrchestratorPlugin.for_product(project_dir)",
            )
        return self.artifacts


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


def _failed(message: str) -> ValidationResult:
    return ValidationResult(False, errors=[message])
