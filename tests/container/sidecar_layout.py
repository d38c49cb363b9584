#!/usr/bin/env python3
"""Checks that docker-compose.yml and deploy/ show explaind both ways: as a sidecar
that shares the application's network namespace and listens on loopback only, and
as a service of its own.

    python3 tests/container/sidecar_layout.py

Schema validity is checked elsewhere (check-jsonschema, kubernetes-validate); this
checks the layout: what shares a network with what, on which address, and that no
probe would knock on an address explaind does not listen on. Needs PyYAML.
"""
import glob
import ipaddress
import sys
from typing import Any, Iterator

import yaml

failures: list[str] = []


def check(condition: object, message: str) -> None:
    if not condition:
        failures.append(message)


def loopback(addr: str) -> bool:
    host = addr.rsplit(":", 1)[0].strip("[]")
    return ipaddress.ip_address(host).is_loopback


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


# --- compose: option 1, explaind in the app's network namespace -------------------------
compose = yaml.safe_load(open("docker-compose.yml"))
services = compose["services"]
sidecar = services.get("explaind", {})
check(sidecar.get("network_mode") == "service:app",
      "compose: explaind must share the app's network (network_mode: service:app)")
check("app" in services and not services["app"].get("profiles"),
      "compose: the app service starts by default")
check(not sidecar.get("profiles"), "compose: the sidecar starts by default")
addr = sidecar.get("environment", {}).get("EXPLAIND_ADDR", "")
check(addr and loopback(addr), f"compose: the sidecar listens on loopback, not '{addr}'")
check(not sidecar.get("ports") and not sidecar.get("expose"),
      "compose: the sidecar publishes no port")
app_url = services.get("app", {}).get("environment", {}).get("EXPLAIND_URL", "")
check(app_url.startswith("http://127.0.0.1:"), f"compose: the app calls localhost, not '{app_url}'")

# --- compose: option 2, a service of its own ---------------------------------------------
standalone = [s for s in services.values()
              if s.get("profiles") and "explaind" in s.get("image", "")]
check(len(standalone) == 1, "compose: one standalone explaind, behind a profile")
for s in standalone:
    env = s.get("environment", {})
    check(not loopback(env.get("EXPLAIND_ADDR", "127.0.0.1:8080")),
          "compose: the standalone explaind listens beyond loopback")
    check("EXPLAIND_TOKENS_FILE" in env or env.get("EXPLAIND_ALLOW_UNAUTHENTICATED") == "true",
          "compose: the standalone explaind says how it is protected")

# --- Kubernetes -------------------------------------------------------------------------
def documents(pattern: str) -> Iterator[tuple[str, Any]]:
    for path in sorted(glob.glob(pattern)):
        for doc in yaml.safe_load_all(open(path)):
            if doc:
                yield path, doc


def explaind_of(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in containers if c.get("image", "").startswith("explaind")]


pods = [(p, d) for p, d in documents("deploy/sidecar/*.yaml") if d["kind"] == "Deployment"]
check(pods, "deploy/sidecar: a Deployment")
for path, deployment in pods:
    spec = deployment["spec"]["template"]["spec"]
    containers = spec.get("containers", [])
    sidecars = [c for c in spec.get("initContainers", []) if c.get("restartPolicy") == "Always"]
    ours = explaind_of(containers + sidecars)
    others = [c for c in containers if c not in ours]
    check(len(ours) == 1, f"{path}: explaind in the pod")
    check(others, f"{path}: an application container beside explaind")
    for c in ours:
        addr = env_of(c).get("EXPLAIND_ADDR", "127.0.0.1:8080")
        check(loopback(addr), f"{path}: explaind listens on loopback, not '{addr}'")
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            check("httpGet" not in c.get(probe, {}),
                  f"{path}: {probe} over HTTP goes to the pod IP, where explaind does not listen")
        check(not c.get("args") or "--tokens-file" not in c["args"],
              f"{path}: no tokens needed on loopback")
    for c in others:
        url = env_of(c).get("EXPLAIND_URL", "")
        check(url.startswith("http://127.0.0.1:"), f"{path}: the app calls localhost, not '{url}'")

kinds = {d["kind"] for _, d in documents("deploy/standalone/*.yaml")}
check({"Deployment", "Service"} <= kinds, "deploy/standalone: a Deployment and its Service")

for message in failures:
    print("FAIL", message)
print("sidecar layout:", "ok" if not failures else f"{len(failures)} failures")
sys.exit(1 if failures else 0)
