"""The package's sensors survive faults: PostgreSQL restarted mid-tick, the daemon SIGKILLed,
the code server restarted during a run.

A real `dagster-daemon` runs a tiny product (one daily-partitioned dbt view) on a
PostgreSQL server of this module's own (tests/private_postgres.py), which the tests stop
and start; the machine's shared server is never touched. A tick is held at the moment of
the fault by a lock the test takes in PostgreSQL (as tests/test_run_key_daemon.py does):
the tick's statement waits, the test sees it wait in `pg_stat_activity`, then restarts the
server (every connection ends, the held statement rolls back) or kills the daemon. For
a code server restart, a run's dbt Python model waits at a gate file meanwhile.

Each case ends the same way: later ticks recover, every requested partition is run and
materialized, exactly one run holds each run key, and no held run is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRun

from bench.synthetic import artifacts, parse
from floe_dagster.names import (
    BACKFILL_ID_TAG,
    DAGSTER_RUN_KEY_TAG,
    HELD_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    RUN_KEY_TAG,
)
from tests.conftest import (
    VENV_BIN,
    cli_env,
    free_port,
    grpc_workspace,
    postgres_home,
    python_file_workspace,
)
from tests.private_postgres import PrivatePostgres, private_postgres
from tests.test_run_keys import postgres_env

pytestmark = pytest.mark.slow

PRODUCT = "faults"
MART = AssetKey(["bench", PRODUCT, "mart_00000"])
WINDOW = 1  # staleness: the latest day, missing, is requested; each run costs minutes here
DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"]  # a CLI backfill, coalesced: one run
BACKFILL = {"policy": "coalesced"}
CHUNKS = {(DAYS[0], DAYS[-1])}


@pytest.fixture(scope="module")
def server() -> Iterator[PrivatePostgres]:
    yield from private_postgres()


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same tiny product twice: with the staleness sensor running, and without it (so
    that it requests nothing while a backfill is tested)."""
    return {
        "staleness": write_product(tmp_path_factory.mktemp("staleness"), staleness=True),
        "backfill": write_product(tmp_path_factory.mktemp("backfill"), staleness=False),
    }


@pytest.fixture(scope="module")
def gated_product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The staleness product whose run waits at a gate (GATED_MODEL): a run in progress."""
    return write_product(tmp_path_factory.mktemp("gated"), staleness=True, gated=True)


# A dbt-duckdb Python model: says its run has started, then waits until the test opens
# the gate (both paths from the deployment's env).
GATED_MODEL = """\
import os
import time
from pathlib import Path


def model(dbt, session):
    dbt.config(materialized="table")
    Path(os.environ["FAULTS_RUN_STARTED"]).touch()
    while not Path(os.environ["FAULTS_RUN_GATE"]).exists():
        time.sleep(0.2)
    return session.sql("select 1 as id")
"""


def write_product(root: Path, staleness: bool, gated: bool = False) -> Path:
    """One daily-partitioned view that reads nothing: a run is one quick `dbt run`; or, if
    `gated`, one table whose run waits at a gate."""
    (root / "models" / "marts").mkdir(parents=True)
    if gated:
        (root / "models" / "marts" / "mart_00000.py").write_text(GATED_MODEL)
    else:
        (root / "models" / "marts" / "mart_00000.sql").write_text(
            'select 1 as id, \'{{ var("min_date", "") }}\' as day\n'
        )
    (root / "dbt_project.yml").write_text(
        f"name: {PRODUCT}\nversion: '1.0.0'\nconfig-version: 2\nprofile: {PRODUCT}\n"
        "model-paths: ['models']\n"
    )
    (root / "profiles.yml").write_text(
        f"{PRODUCT}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: \"{{{{ env_var('FLOE_DUCKDB_PATH', '{PRODUCT}.duckdb') }}}}\"\n"
    )
    data = artifacts(PRODUCT, ["mart_00000"], partitioned=True)
    section = data["plugins"]["orchestrator"]["config"]
    section["transforms"] = [
        {"select": "path:models/marts", "partition_scheme": "daily", "backfill": BACKFILL}
    ]
    section["schedules"] = []
    section["sensors"] = {
        "staleness": {"window": WINDOW, "default_status": "running", "minimum_interval_seconds": 30}
        if staleness
        else {"enabled": False}
    }
    (root / "compiled_artifacts.json").write_text(json.dumps(data, indent=1))
    (root / "definitions.py").write_text(
        "from pathlib import Path\n\nfrom floe_dagster import load_product_definitions\n\n"
        f'defs = load_product_definitions("{PRODUCT}", Path(__file__).parent)\n'
    )
    parse(root)
    return root


@dataclass
class Deployment:
    """An instance on a new database of the private server, and the daemon that serves it."""

    server: PrivatePostgres
    url: str
    home: Path
    workspace: Path
    env: dict[str, str]
    log: Path
    product: Path
    port: int | None = None  # the code server's, when the workspace names one (grpc_server)
    daemon: subprocess.Popen | None = None
    code_server: subprocess.Popen | None = None
    started: list[subprocess.Popen] = field(default_factory=list)

    def start_code_server(self) -> None:
        """The product's own code server, started as the Helm chart starts it."""
        self.code_server = subprocess.Popen(
            [
                *(VENV_BIN / "dagster", "code-server", "start", "--host", "127.0.0.1"),
                *("--port", str(self.port), "--location-name", PRODUCT),
                *("--python-file", str(self.product / "definitions.py")),
                *("--working-directory", str(self.product)),
            ],
            env=self.env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append(self.code_server)

    def terminate_code_server(self) -> None:
        """SIGTERM to the code server, as Kubernetes sends when its pod restarts; until it ends."""
        assert self.code_server is not None
        self.code_server.terminate()
        self.code_server.wait(timeout=60)
        self.code_server = None

    def start_daemon(self) -> None:
        self.daemon = subprocess.Popen(
            [VENV_BIN / "dagster-daemon", "run", "-w", str(self.workspace)],
            env=self.env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill_daemon(self) -> None:
        """SIGKILL the daemon and its code server, as when their pod dies. The run workers
        the code server started live on, as runs in their own pods would."""
        assert self.daemon is not None
        code_servers = subprocess.run(
            ["pgrep", "-P", str(self.daemon.pid)], capture_output=True, text=True
        ).stdout.split()
        for pid in [self.daemon.pid, *map(int, code_servers)]:
            os.kill(pid, signal.SIGKILL)
        self.daemon.wait()
        self.started.append(self.daemon)
        self.daemon = None

    def stop(self) -> None:
        """End every process this deployment started (code servers and run workers included)."""
        for process in [*self.started, *([self.daemon] if self.daemon else [])]:
            with contextlib.suppress(ProcessLookupError):  # the group may be gone already
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.daemon = self.code_server = None

    def query(self, sql: str) -> list[tuple]:
        with psycopg2.connect(self.url) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def hold(self, sql: str) -> Any:
        """Run `sql` (a LOCK or SELECT ... FOR UPDATE) in a transaction left open."""
        conn = psycopg2.connect(self.url)
        conn.cursor().execute(sql)
        return conn

    def wait_until_blocked(self, statement: str) -> None:
        """Until a backend waits on a lock while running `statement` (a LIKE pattern of its
        SQL's start; psycopg2 sends values inline, so they can be matched too)."""
        wait_for(
            f"a tick to wait on the lock in {statement}",
            lambda: self.query(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                f"AND query ILIKE '{statement}%'"
            ),
            self,
        )

    def cli(self, *args: str) -> None:
        done = subprocess.run(
            [VENV_BIN / "dagster", *args, "-w", str(self.workspace)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    def instance(self) -> DagsterInstance:
        return DagsterInstance.from_config(str(self.home))


@pytest.fixture
def deploy(
    server: PrivatePostgres,
    products: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[str], Deployment]]:
    """Makes the deployment of `products[kind]` on a new database; stops its daemon after.
    "gated" is `gated_product` served by a code server of its own (`start_code_server`)."""
    made: list[Deployment] = []

    def make(kind: str) -> Deployment:
        port = None
        if kind == "gated":
            product, port = request.getfixturevalue("gated_product"), free_port()
            workspace = grpc_workspace(tmp_path / "workspace.yaml", "127.0.0.1", port, PRODUCT)
        else:
            product = products[kind]
            workspace = python_file_workspace(tmp_path / "workspace.yaml", product, PRODUCT)
        url = server.new_database()
        home = postgres_home(tmp_path / "home")
        pg = postgres_env(url)
        for name, value in pg.items():
            monkeypatch.setenv(name, value)
        env = cli_env(
            DAGSTER_HOME=str(home),
            FLOE_DUCKDB_PATH=str(tmp_path / "wh.duckdb"),
            FAULTS_RUN_STARTED=str(tmp_path / "run-started"),
            FAULTS_RUN_GATE=str(tmp_path / "run-gate"),
            **pg,
        )
        log = tmp_path / "daemon.log"
        found = Deployment(server, url, home, workspace, env, log, product, port)
        with found.instance():
            pass  # Dagster's tables exist before a test locks one of them
        made.append(found)
        return found

    try:
        yield make
    finally:
        for found in made:
            found.stop()
        if not server.reachable():
            server.start()  # a failed test must not leave the module's server down


def wait_for(what: str, check: Callable[[], Any], deployment: Deployment, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except psycopg2.OperationalError:  # the server is restarting
            found = None
        if found:
            return found
        time.sleep(0.5)
    log = deployment.log.read_text()[-4000:] if deployment.log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def end_waiting_statements(deployment: Deployment) -> None:
    """A killed daemon's statement still waiting on the lock would commit once it goes."""
    deployment.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )


def settled(deployment: Deployment, done: Callable[[list[DagsterRun]], bool]) -> list[DagsterRun]:
    """Every run of the product once all are finished and `done(runs)` holds."""

    def runs() -> list[DagsterRun] | None:
        with deployment.instance() as instance:
            found = instance.get_runs()
        finished = [r for r in found if HELD_TAG not in r.tags]
        return found if found and all(r.is_finished for r in finished) and done(found) else None

    return wait_for("every run to finish", runs, deployment, timeout=600)


def ticks(deployment: Deployment, sensor: str) -> list[Any]:
    """The sensor's ticks, newest first (Dagster's InstigatorTick: status, timestamp)."""
    with deployment.instance() as instance:
        (state,) = [s for s in instance.all_instigator_state() if s.instigator_name == sensor]
        return list(instance.get_ticks(state.instigator_origin_id, state.selector_id))


def failed_ticks(deployment: Deployment, sensor: str) -> int:
    """How many of the sensor's ticks failed: the fault hit a tick, not something else."""
    return sum(t.status.value == "FAILURE" for t in ticks(deployment, sensor))


def materialized(deployment: Deployment) -> set[str]:
    with deployment.instance() as instance:
        return instance.get_materialized_partitions(MART)


def one_run_per_key(runs: list[DagsterRun], tag: str) -> None:
    counts = Counter(r.tags.get(tag) for r in runs)
    assert None not in counts and set(counts.values()) == {1}, counts


# The staleness sensor: PostgreSQL restarted while a tick records its checks (mid-tick), and
# after a tick reserved its run keys but before the daemon created the runs (mid-reservation).
# (the lock, the statement it holds, run keys reserved when the server goes down)
STALENESS_FAULTS = {
    "mid-tick": (
        "LOCK TABLE event_logs IN EXCLUSIVE MODE",
        "INSERT INTO event_logs%ASSET_CHECK_EVALUATION",  # not another daemon's event
        0,
    ),
    "mid-reservation": ("LOCK TABLE runs IN EXCLUSIVE MODE", "INSERT INTO runs", WINDOW),
}


def reserved_keys(deployment: Deployment) -> int:
    if not deployment.query("SELECT to_regclass('floe_run_key_reservations')")[0][0]:
        return 0
    return deployment.query("SELECT count(*) FROM floe_run_key_reservations")[0][0]


@pytest.mark.parametrize("fault", list(STALENESS_FAULTS))
def test_staleness_sensor_recovers_from_a_postgres_restart(deploy, fault):
    deployment = deploy("staleness")
    lock, statement, reserved = STALENESS_FAULTS[fault]
    held = deployment.hold(lock)
    deployment.start_daemon()
    deployment.wait_until_blocked(statement)
    assert reserved_keys(deployment) == reserved
    deployment.server.restart()
    held.close()

    runs = settled(deployment, lambda runs: len(runs) >= WINDOW)
    assert all(r.status.value == "SUCCESS" for r in runs), [(r.run_id, r.status) for r in runs]
    assert len(runs) == WINDOW
    one_run_per_key(runs, RUN_KEY_TAG)
    partitions = {r.tags["dagster/partition"] for r in runs}
    assert materialized(deployment) == partitions and len(partitions) == WINDOW
    assert failed_ticks(deployment, f"{PRODUCT}_staleness") >= 1


def held_backfill(deployment: Deployment) -> None:
    """`dagster job backfill` of DAYS, no daemon yet: the coordinator holds one run a day."""
    deployment.cli(
        "job", "backfill", "-j", "daily_job", "--from", DAYS[0], "--to", DAYS[-1], "--noprompt"
    )
    assert held_days(deployment) == DAYS


def held_days(deployment: Deployment) -> list[str]:
    with deployment.instance() as instance:
        runs = instance.get_runs()
    return sorted(r.tags["dagster/partition"] for r in runs if HELD_TAG in r.tags)


def assert_backfill_replaced_once(deployment: Deployment) -> None:
    runs = settled(deployment, lambda runs: not [r for r in runs if HELD_TAG in r.tags])
    assert {(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in runs} == CHUNKS
    assert len(runs) == len(CHUNKS), [(r.run_id, r.tags) for r in runs]
    assert all(r.status.value == "SUCCESS" for r in runs), [(r.run_id, r.status) for r in runs]
    one_run_per_key(runs, DAGSTER_RUN_KEY_TAG)
    assert len({r.tags[BACKFILL_ID_TAG] for r in runs}) == 1
    assert materialized(deployment) == set(DAYS)


def test_backfill_replacement_recovers_from_a_postgres_restart_while_creating_runs(deploy):
    deployment = deploy("backfill")
    held_backfill(deployment)
    lock = deployment.hold("LOCK TABLE runs IN EXCLUSIVE MODE")
    deployment.start_daemon()
    deployment.wait_until_blocked("INSERT INTO runs")
    deployment.server.restart()
    lock.close()
    assert_backfill_replaced_once(deployment)
    assert failed_ticks(deployment, f"{PRODUCT}_backfill_policy") >= 1


def hold_oldest_held_run(deployment: Deployment) -> Any:
    """Lock the first day's held run: deleting the held runs (newest first) stops there."""
    return deployment.hold("SELECT 1 FROM runs WHERE id = (SELECT min(id) FROM runs) FOR UPDATE")


def test_backfill_replacement_recovers_from_a_postgres_restart_while_deleting_held_runs(
    deploy,
):
    deployment = deploy("backfill")
    held_backfill(deployment)
    lock = hold_oldest_held_run(deployment)
    deployment.start_daemon()
    deployment.wait_until_blocked("DELETE FROM runs")
    deployment.server.restart()
    lock.close()
    assert_backfill_replaced_once(deployment)
    assert failed_ticks(deployment, f"{PRODUCT}_backfill_policy") >= 1


def test_daemon_killed_between_deleting_held_runs_and_replacing_the_rest_makes_no_extra_run(
    deploy,
):
    deployment = deploy("backfill")
    held_backfill(deployment)
    lock = hold_oldest_held_run(deployment)
    deployment.start_daemon()
    deployment.wait_until_blocked("DELETE FROM runs")
    deployment.kill_daemon()
    end_waiting_statements(deployment)
    lock.rollback()
    lock.close()
    assert held_days(deployment) == DAYS[:1]  # the kill came after the other days' deletes
    deployment.start_daemon()
    assert_backfill_replaced_once(deployment)


# A code server restarted during a run. The daemon reaches the product's own code server
# (`dagster code-server start`, as the Helm chart runs it) over gRPC; with Dagster's
# DefaultRunLauncher the run worker is a process of that server. On SIGTERM the server
# tells its `dagster api grpc` child to shut down once its runs finish, waits 30 s for it,
# and exits; the child, left behind, finishes the run and then exits.


def group_alive(pgid: int) -> bool:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True).returncode == 0


def recovered_since(deployment: Deployment, sensor: str, since: float) -> float | None:
    """When a tick of `sensor` that began after `since` ended other than in failure."""
    done = [
        t.timestamp
        for t in ticks(deployment, sensor)
        if t.timestamp > since and t.status.value in ("SUCCESS", "SKIPPED")
    ]
    return min(done, default=None)


def test_a_run_outlives_its_code_server_restarting_and_later_ticks_recover(deploy):
    deployment = deploy("gated")
    deployment.start_code_server()
    deployment.start_daemon()
    wait_for(
        "the run to reach its gated model",
        Path(deployment.env["FAULTS_RUN_STARTED"]).exists,
        deployment,
    )
    with deployment.instance() as instance:
        (run,) = instance.get_runs()
    old = deployment.code_server
    assert old is not None
    terminated_at = time.time()
    deployment.terminate_code_server()
    deployment.start_code_server()
    restarted_at = time.time()
    backfills = f"{PRODUCT}_backfill_policy"  # ticks every 5 s: sees the outage
    up_at = wait_for(
        "a tick after the restart",
        lambda: recovered_since(deployment, backfills, restarted_at),
        deployment,
    )
    with deployment.instance() as instance:  # the run went on through the outage
        assert [r.status.value for r in instance.get_runs()] == ["STARTED"]
    Path(deployment.env["FAULTS_RUN_GATE"]).touch()

    staleness = f"{PRODUCT}_staleness"
    runs = settled(deployment, lambda _: recovered_since(deployment, staleness, restarted_at))
    assert [(r.run_id, r.status.value) for r in runs] == [(run.run_id, "SUCCESS")]
    one_run_per_key(runs, RUN_KEY_TAG)
    assert materialized(deployment) == {run.tags["dagster/partition"]}
    failures = [t.timestamp for t in ticks(deployment, backfills) if t.status.value == "FAILURE"]
    assert failures and all(terminated_at < t < up_at for t in failures), (
        terminated_at,
        failures,
        up_at,
    )
    wait_for("the old code server to exit", lambda: not group_alive(old.pid), deployment)
