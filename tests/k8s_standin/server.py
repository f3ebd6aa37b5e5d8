"""A loopback stand-in for the Kubernetes API: just enough for K8sRunLauncher and k8s_job_executor.

Test code, not product code. It speaks the REST calls the `kubernetes` client makes for
batch/v1 Jobs (create, read, read status, list, delete), core/v1 Pods (list, read, log,
delete), Secrets (create, read), Events (list, always empty) and Namespaces (read). Each
Job body is checked against the Kubernetes OpenAPI schema (strict: unknown fields are
errors) and a valid Job becomes one "pod": its container's command and args run as a local
process with the Job's env (secretKeyRef and secretRef resolved from the stored Secrets),
the venv standing in for the image. The process's exit code settles the pod and the Job
(`succeeded` or `failed`), as a Job with backoffLimit 0 behaves. Volumes are not mounted.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import kubernetes_validate

KUBERNETES_VERSION = "1.35"
IMAGE_PATH = (
    f"{Path(sys.executable).parent}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin"
)


def schema_errors(body: dict[str, Any]) -> list[str]:
    """Where `body` breaks the Kubernetes OpenAPI schema (strict); empty when it is valid."""
    try:
        kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{'.'.join(str(p) for p in exc.path)}: {exc.message}"]
    return []


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Pod:
    name: str
    namespace: str
    job_name: str
    body: dict[str, Any]
    log_path: Path
    process: subprocess.Popen | None = None
    phase: str = "Pending"
    exit_code: int | None = None

    def to_json(self) -> dict[str, Any]:
        container = self.body["spec"]["containers"][0]["name"]
        state: dict[str, Any] = {
            "running": {"startedAt": self.body["metadata"]["creationTimestamp"]}
        }
        if self.exit_code is not None:
            state = {
                "terminated": {
                    "exitCode": self.exit_code,
                    "reason": "Completed" if self.exit_code == 0 else "Error",
                }
            }
        status = {
            "phase": self.phase,
            "containerStatuses": [
                {
                    "name": container,
                    "image": self.body["spec"]["containers"][0]["image"],
                    "imageID": "",
                    "ready": self.phase == "Running",
                    "restartCount": 0,
                    "state": state,
                }
            ],
        }
        return {"apiVersion": "v1", "kind": "Pod", **self.body, "status": status}


@dataclass
class Job:
    body: dict[str, Any]
    pods: list[Pod] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    def status(self) -> dict[str, Any]:
        pod = self.pods[-1] if self.pods else None
        status: dict[str, Any] = {"startTime": self.body["metadata"]["creationTimestamp"]}
        if pod is None or pod.exit_code is None:
            status["active"] = 1
        elif pod.exit_code == 0:
            status.update(succeeded=1, conditions=[{"type": "Complete", "status": "True"}])
        else:
            status.update(
                failed=1,
                conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}],
            )
        return status

    def to_json(self) -> dict[str, Any]:
        return {**self.body, "status": self.status()}


class KubernetesStandIn:
    """The fake API server. `jobs` keeps every Job created, in order; `rejected` every invalid body."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], Job] = {}
        self.created: list[dict[str, Any]] = []
        self.rejected: list[tuple[dict[str, Any], list[str]]] = []
        self.secrets: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()
        self._scratch = Path(tempfile.mkdtemp(prefix="k8s-standin-"))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> KubernetesStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            pods = [p for job in self.jobs.values() for p in job.pods]
        for pod in pods:
            _kill(pod)
        shutil.rmtree(self._scratch, ignore_errors=True)

    def write_kubeconfig(self, path: Path) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "standin", "user": {}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "standin"}}],
            "current-context": "standin",
        }
        path.write_text(json.dumps(config))
        return path

    def pod_log(self, job_name: str) -> str:
        """The last pod's output for a Job, for failure messages."""
        with self._lock:
            job = next((j for j in self.jobs.values() if j.name == job_name), None)
        return job.pods[-1].log_path.read_text(errors="replace") if job and job.pods else ""

    # --- API operations -------------------------------------------------------------------

    def create_job(self, namespace: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        errors = schema_errors(body)
        with self._lock:
            self.created.append(body)
            if errors:
                self.rejected.append((body, errors))
                return 422, _status(422, "Invalid", f"Job is invalid: {errors}")
            key = (namespace, body["metadata"]["name"])
            if key in self.jobs:
                return 409, _status(409, "AlreadyExists", f"jobs.batch {key[1]!r} already exists")
            metadata = body.setdefault("metadata", {})
            metadata.update(namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=_now())
            job = self.jobs[key] = Job(body)
            pod = self._start_pod(namespace, job)
            job.pods.append(pod)
        threading.Thread(target=self._settle, args=(pod,), daemon=True).start()
        return 201, job.to_json()

    def _start_pod(self, namespace: str, job: Job) -> Pod:
        template = json.loads(json.dumps(job.body["spec"]["template"]))
        name = f"{job.name}-{uuid.uuid4().hex[:5]}"
        metadata = template.setdefault("metadata", {})
        metadata.update(
            name=name, namespace=namespace, uid=str(uuid.uuid4()), creationTimestamp=_now()
        )
        metadata.setdefault("labels", {}).update(
            {"job-name": job.name, "batch.kubernetes.io/job-name": job.name}
        )
        pod = Pod(name, namespace, job.name, template, self._scratch / f"{name}.log")
        container = template["spec"]["containers"][0]
        command = [*container.get("command", []), *container.get("args", [])]
        home = self._scratch / name
        home.mkdir()
        try:
            env = {
                "PATH": IMAGE_PATH,
                "HOME": str(home),
                **self._container_env(namespace, container),
            }
        except KeyError as exc:  # a missing Secret: the pod never starts
            pod.log_path.write_text(f"CreateContainerConfigError: {exc}\n")
            pod.phase, pod.exit_code = "Failed", 128
            return pod
        with pod.log_path.open("wb") as log:
            pod.process = subprocess.Popen(
                command,
                cwd=container.get("workingDir", str(home)),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pod.phase = "Running"
        return pod

    def _container_env(self, namespace: str, container: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                env.update(self.secrets[(namespace, source["secretRef"]["name"])])
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
            elif "secretKeyRef" in var.get("valueFrom", {}):
                ref = var["valueFrom"]["secretKeyRef"]
                env[var["name"]] = self.secrets[(namespace, ref["name"])][ref["key"]]
        return env

    def _settle(self, pod: Pod) -> None:
        if pod.process is None:
            return
        code = pod.process.wait()
        with self._lock:
            pod.exit_code = code
            pod.phase = "Succeeded" if code == 0 else "Failed"

    def delete_job(self, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            job = self.jobs.pop((namespace, name), None)
        if job is None:
            return 404, _status(404, "NotFound", f'jobs.batch "{name}" not found')
        for pod in job.pods:
            _kill(pod)
        return 200, _status(200, "Success", "deleted")

    def find_pods(self, namespace: str, selector: str) -> list[Pod]:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        with self._lock:
            pods = [p for j in self.jobs.values() for p in j.pods if p.namespace == namespace]
        return [
            p
            for p in pods
            if all(p.body["metadata"]["labels"].get(k) == v for k, v in wanted.items())
        ]

    def find_jobs(self, namespace: str, selector: str) -> list[Job]:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if "=" in part)
        with self._lock:
            jobs = [j for (ns, _), j in self.jobs.items() if ns == namespace]
        return [
            j
            for j in jobs
            if all(j.body["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]


def _kill(pod: Pod) -> None:
    if pod.process is not None and pod.process.poll() is None:
        try:
            os.killpg(pod.process.pid, signal.SIGTERM)
            pod.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(pod.process.pid, signal.SIGKILL)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Success" if code < 300 else "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }


_ROUTES = [
    ("jobs", re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs$")),
    (
        "job",
        re.compile(
            r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs/(?P<name>[^/]+?)(?P<sub>/status)?$"
        ),
    ),
    ("pods", re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$")),
    ("pod", re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+?)(?P<sub>/log)?$")),
    ("secrets", re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/secrets$")),
    ("events", re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/events$")),
    ("namespace", re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)$")),
]


def _handler_for(api: KubernetesStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _route(self) -> tuple[str, dict[str, str], dict[str, list[str]]]:
            url = urlparse(self.path)
            for name, pattern in _ROUTES:
                match = pattern.match(url.path)
                if match:
                    return name, match.groupdict(), parse_qs(url.query)
            return "", {}, {}

        def _send(self, code: int, body: dict[str, Any] | str) -> None:
            text = body if isinstance(body, str) else json.dumps(body)
            data = text.encode()
            self.send_response(code)
            self.send_header(
                "Content-Type", "text/plain" if isinstance(body, str) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

        def do_POST(self) -> None:
            route, params, _ = self._route()
            if route == "jobs":
                self._send(*api.create_job(params["ns"], self._body()))
            elif route == "secrets":
                body = self._body()
                data = {k: base64.b64decode(v).decode() for k, v in body.get("data", {}).items()}
                data.update(body.pop("stringData", {}))
                api.secrets[(params["ns"], body["metadata"]["name"])] = data
                self._send(201, {**body, "data": {}})  # never echo values
            else:
                self._send(404, _status(404, "NotFound", self.path))

        def do_GET(self) -> None:
            route, params, query = self._route()
            selector = query.get("labelSelector", [""])[0]
            if route == "jobs":
                items = [j.to_json() for j in api.find_jobs(params["ns"], selector)]
                self._send(
                    200,
                    {"apiVersion": "batch/v1", "kind": "JobList", "metadata": {}, "items": items},
                )
            elif route == "job":
                job = api.jobs.get((params["ns"], params["name"]))
                self._send(200, job.to_json()) if job else self._send(
                    404, _status(404, "NotFound", params["name"])
                )
            elif route == "pods":
                items = [p.to_json() for p in api.find_pods(params["ns"], selector)]
                self._send(
                    200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}
                )
            elif route == "pod":
                pod = next(
                    (p for p in api.find_pods(params["ns"], "") if p.name == params["name"]), None
                )
                if pod is None:
                    self._send(404, _status(404, "NotFound", params["name"]))
                elif params.get("sub") == "/log":
                    self._send(
                        200,
                        pod.log_path.read_text(errors="replace") if pod.log_path.exists() else "",
                    )
                else:
                    self._send(200, pod.to_json())
            elif route == "events":
                self._send(
                    200, {"apiVersion": "v1", "kind": "EventList", "metadata": {}, "items": []}
                )
            elif route == "namespace":
                self._send(
                    200,
                    {
                        "apiVersion": "v1",
                        "kind": "Namespace",
                        "metadata": {"name": params["ns"]},
                        "status": {"phase": "Active"},
                    },
                )
            else:
                self._send(404, _status(404, "NotFound", self.path))

        def do_DELETE(self) -> None:
            route, params, _ = self._route()
            if route == "job":
                self._send(*api.delete_job(params["ns"], params["name"]))
            elif route == "pod":
                self._send(200, _status(200, "Success", "deleted"))
            else:
                self._send(404, _status(404, "NotFound", self.path))

    return Handler
