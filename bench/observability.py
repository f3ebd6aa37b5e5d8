"""What lineage and telemetry cost a run when their endpoints are down (issue 8).

`python -m bench.observability [--repeat N]` materializes the whole demo product through the
dagster CLI, in a private copy, with lineage and telemetry:

- off: both switched off (the demo's own artifacts);
- reachable: both on, sent to loopback receivers that accept everything;
- unreachable: both on, pointed at closed loopback ports (connection refused).

It prints each run's wall time, its status and how many "could not be sent" warnings the
run printed (one per process and destination is the design: each step process and the run
worker log their own).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from tests.conftest import DEMO, VENV_BIN
from tests.observed_runs import demo_copy, materialize, observe, only_run
from tests.receivers import lineage_receiver, otlp_receiver

MODES = ("off", "reachable", "unreachable")


def closed_port_url() -> str:
    """A loopback URL nothing listens on: bind a port, then let it go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def one_run(mode: str, work: Path) -> tuple[float, str, int]:
    """Materialize the demo once in `mode`; (seconds, run status, warnings logged)."""
    with ExitStack() as stack:
        if mode == "reachable":
            lineage_url, _ = stack.enter_context(lineage_receiver())
            otlp_url, _ = stack.enter_context(otlp_receiver())
        else:
            lineage_url, otlp_url = closed_port_url(), closed_port_url()
        change = (
            (lambda d: None) if mode == "off" else (lambda d: observe(d, lineage_url, otlp_url))
        )
        product = demo_copy(work / "customer_360", DEMO / "target" / "manifest.json", change)
        started = time.perf_counter()
        done = materialize(product, work / "home")
        seconds = time.perf_counter() - started
    try:
        status = only_run(work / "home").status.value
    except ValueError:  # the code location did not load, so no run was created
        status = "NO RUN"
    if status != "SUCCESS":
        print(done.stderr[-4000:], file=sys.stderr)
    return seconds, status, (done.stdout + done.stderr).count("could not be sent to")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per mode (interleaved)")
    args = parser.parse_args()
    if not (DEMO / "target" / "manifest.json").exists():
        subprocess.run([VENV_BIN / "floe-dagster", "prepare", str(DEMO)], check=True)
    results: dict[str, list[float]] = {m: [] for m in MODES}
    for i in range(args.repeat):
        for mode in MODES:
            with tempfile.TemporaryDirectory(prefix=f"floe-bench-{mode}-") as tmp:
                seconds, status, warnings = one_run(mode, Path(tmp))
            results[mode].append(seconds)
            print(
                f"{mode:12} run {i + 1}: {seconds:6.1f} s  {status:8}  warnings logged: {warnings}"
            )
            sys.stdout.flush()
    print()
    for mode, times in results.items():
        print(f"{mode:12} mean {sum(times) / len(times):6.1f} s  ({len(times)} runs)")


if __name__ == "__main__":
    main()
