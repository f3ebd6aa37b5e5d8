"""The deployment policy every rendered manifest must meet (test code).

Non-root containers with a read-only root filesystem, requests and limits on every
container, and secrets only by reference: no Secret objects carrying data, no secret-looking
env var with a literal value; and every Service's pods behind a NetworkPolicy whose rules
name who may reach them.
"""

from __future__ import annotations

import re
from typing import Any

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_?KEY|CREDENTIAL|PRIVATE_?KEY", re.IGNORECASE)


def violations(objects: list[dict[str, Any]]) -> list[str]:
    """Every breach of the policy, as `kind/name: what`."""
    found: list[str] = []
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "Secret" and (obj.get("data") or obj.get("stringData")):
            found.append(
                f"{where}: carries secret data inline; reference an existing secret instead"
            )
        pod = _pod_spec(obj)
        if pod is None:
            continue
        pod_context = pod.get("securityContext", {})
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            found += [
                f"{where} container {container['name']}: {v}"
                for v in _container(container, pod_context)
            ]
    return found + _network_violations(objects)


def _network_violations(objects: list[dict[str, Any]]) -> list[str]:
    """A Service's pods must be selected by an ingress NetworkPolicy whose every rule names its sources."""
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    found: list[str] = []
    for service in (o for o in objects if o["kind"] == "Service"):
        selector = service["spec"].get("selector", {})
        covering = [
            p
            for p in policies
            if p["spec"]["podSelector"].get("matchLabels", {}).items() <= selector.items()
            and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        ]
        if not covering:
            found.append(
                f"Service/{service['metadata']['name']}: no NetworkPolicy restricts who reaches "
                "its pods: set networkPolicy.enabled: true"
            )
        for policy in covering:
            for rule in policy["spec"].get("ingress", []):
                if not rule.get("from"):
                    found.append(
                        f"NetworkPolicy/{policy['metadata']['name']}: an ingress rule admits every "
                        "source: name the pods in `from`"
                    )
    return found


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] == "Pod":
        return obj["spec"]
    template = obj.get("spec", {}).get("template") or obj.get("spec", {}).get(
        "jobTemplate", {}
    ).get("spec", {}).get("template")
    return template["spec"] if template else None


def _container(container: dict[str, Any], pod_context: dict[str, Any]) -> list[str]:
    problems = []
    context = {**pod_context, **container.get("securityContext", {})}
    if context.get("runAsNonRoot") is not True or context.get("runAsUser") == 0:
        problems.append("may run as root: set securityContext.runAsNonRoot: true")
    if context.get("readOnlyRootFilesystem") is not True:
        problems.append(
            "root filesystem is writable: set securityContext.readOnlyRootFilesystem: true"
        )
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                problems.append(f"no {resource} {kind[:-1]}: set resources.{kind}.{resource}")
    for var in container.get("env", []):
        if "value" in var and SECRET_NAME.search(var["name"]):
            problems.append(
                f"env {var['name']} carries a secret inline: use valueFrom.secretKeyRef"
            )
    return problems
