"""What a user sees in the Dagster UI, through Debian's chromium driven by playwright.

`dagster-webserver` and `dagster-daemon` run on the repo's workspace.yaml with a private
DAGSTER_HOME and warehouse. Screenshots land in .artifacts/screenshots/ for people to look at.
Runs are of `shop/customers`, the demo's cheapest asset; each test waits for its runs to end,
so the next one finds nothing in flight.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RepositoryDefinition
from playwright.sync_api import Browser, Page, expect, sync_playwright

from floe_dagster import load_product_definitions
from floe_dagster.names import REFUSED_FOR_TAG, REFUSED_TAG
from tests.conftest import DEMO, IN_CI, REPO, cli_env, free_port
from tests.serving import serving
from tests.test_run_gate_served import finished_runs

pytestmark = pytest.mark.slow

SCREENSHOTS = REPO / ".artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The UI's "Join the Dagster community" dialog covers the page on localhost; a user dismisses it.
DISMISS_COMMUNITY_PROMPT = "window.localStorage.setItem('communityNux', '1')"
UI_TIMEOUT_MS = 120_000
RUN_TIMEOUT_MS = 600_000
RUN_STATUS = re.compile(r"^(Queued|Starting|Started|Success|Failure|Canceling|Canceled)$")
RUN_END_EVENT = re.compile(r"^(RUN_SUCCESS|RUN_FAILURE|RUN_CANCELED)$")
CUSTOMERS = "/assets/sales/customer_360/shop/customers"
MATERIALIZE = re.compile(r"^Materialize$")
RE_EXECUTE_ALL = re.compile(r"^Re-execute all")


expect.set_options(timeout=UI_TIMEOUT_MS)


@pytest.fixture(scope="module")
def product(demo_manifest: Path) -> RepositoryDefinition:
    """What the UI should show, read from the definitions themselves."""
    return load_product_definitions("customer_360", DEMO).get_repository_def()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served instance's DAGSTER_HOME (dagster_home/), warehouse and logs."""
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def webserver(scratch: Path, demo_manifest: Path) -> Iterator[str]:
    """The UI's base URL; the daemon runs too, or queued runs would never start."""
    home = scratch / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    # Create the SQLite storage once first: the webserver, the daemon and their code servers
    # creating it at the same time race in alembic ("more than one head present").
    with DagsterInstance.from_config(str(home)):
        pass
    env = cli_env(DAGSTER_HOME=str(home), FLOE_DUCKDB_PATH=str(scratch / "warehouse.duckdb"))
    port = free_port()
    daemon = ["dagster-daemon", "run", "-w", "workspace.yaml"]
    web = ["dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with (
        serving(daemon, cwd=REPO, env=env, log=scratch / "daemon.log"),
        serving(
            web,
            cwd=REPO,
            env=env,
            log=scratch / "webserver.log",
            ready_url=f"http://127.0.0.1:{port}/server_info",
        ),
    ):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def instance(webserver: str, scratch: Path) -> Iterator[DagsterInstance]:
    """The served instance, to read back the runs the UI made."""
    with DagsterInstance.from_config(str(scratch / "dagster_home")) as instance:
        yield instance


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium; missing, it fails the test under CI and skips it elsewhere."""
    executable = shutil.which("chromium")
    if executable is None:
        message = "chromium is not installed (scripts/test_services.sh installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextmanager
def new_page(browser: Browser, webserver: str) -> Iterator[Page]:
    context = browser.new_context(base_url=webserver, viewport={"width": 1600, "height": 1000})
    context.add_init_script(DISMISS_COMMUNITY_PROMPT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, webserver: str) -> Iterator[Page]:
    with new_page(browser, webserver) as page:
        yield page


@pytest.fixture(scope="module")
def clicked_twice(
    browser: Browser, webserver: str, instance: DagsterInstance
) -> tuple[str, list[DagsterRun]]:
    """Materialize on shop/customers clicked, and again as soon as the first launch returned.

    (the first run's id, every run the two clicks made), once those runs have ended.
    """
    before = set(instance.get_run_ids())
    with new_page(browser, webserver) as page:
        page.goto(CUSTOMERS)
        materialize = page.locator("button:enabled", has_text=MATERIALIZE)
        materialize.click()
        expect(page.get_by_text("Launched run")).to_be_visible()
        first = run_id_of(page.get_by_role("link", name="View", exact=True).get_attribute("href"))
        materialize.click()  # the button is enabled again once the first launch returned
        expect(page.get_by_text("Launched run")).to_have_count(2)
    made = [run_id for run_id in instance.get_run_ids() if run_id not in before]
    return first, finished_runs(instance, made)


def run_id_of(url: str | None) -> str:
    """The run id at the end of a run page's URL (`/runs/<id>`)."""
    match = re.search(r"/runs/([0-9a-f-]+)$", url or "")
    assert match, url
    return match.group(1)


def ends(page: Page, status: str, name: str) -> None:
    """The open run page shows the run's end, with `status`; a screenshot either way."""
    try:
        expect(page.get_by_text(RUN_END_EVENT)).to_be_visible(timeout=RUN_TIMEOUT_MS)
    finally:
        screenshot(page, name)
    expect(page.get_by_text(RUN_STATUS).first).to_have_text(status, timeout=RUN_TIMEOUT_MS)


def re_execute_all(page: Page) -> str:
    """Click the open run page's "Re-execute all"; the UI opens the new run: its id."""
    parent = page.url
    page.get_by_role("button", name=RE_EXECUTE_ALL).click()
    expect(page).not_to_have_url(parent)
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]+$"))
    return run_id_of(page.url)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / name)


def load_error(page: Page) -> str:
    """The error the UI shows for a location that failed to load, as a user would open it."""
    page.get_by_role("button", name="View error").click()
    dialog = page.get_by_role("dialog")
    screenshot(page, "01_code_location_error.png")
    return dialog.inner_text()


def shows(label: str, name: str) -> bool:
    """The graph shortens long names in the middle (`int_custom…_orders`)."""
    head, dots, tail = label.partition("…")
    return label == name or (bool(dots) and name.startswith(head) and name.endswith(tail))


def test_the_code_location_loads_without_error(page: Page):
    page.goto("/locations")
    expect(page.locator("a[href='/locations/customer_360/']")).to_be_visible()
    expect(page.get_by_text("1 code location", exact=True)).to_be_visible()
    status = page.get_by_text(re.compile(r"^(Loaded|Failed)$"))
    expect(status).to_be_visible()
    screenshot(page, "01_code_location.png")
    assert status.inner_text() == "Loaded", load_error(page)


def test_the_asset_graph_shows_every_asset_in_its_group(page: Page, product: RepositoryDefinition):
    graph = product.asset_graph
    names = sorted(key.path[-1] for key in graph.get_all_asset_keys())
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    page.goto("/asset-groups")
    expect(page.get_by_text("Materialize all")).to_be_visible()
    page.keyboard.press("Alt+e")  # the graph's "Expand all groups" shortcut
    nodes = page.locator("[class*='AssetNode_assetName']")
    expect(nodes).to_have_count(len(names))
    screenshot(page, "02_asset_graph.png")

    labels = nodes.all_inner_texts()
    assert all(any(shows(label, name) for label in labels) for name in names), (labels, names)
    for group in groups:
        expect(page.get_by_text(group, exact=True).first).to_be_visible()


def test_automation_lists_every_schedule_and_sensor(page: Page, product: RepositoryDefinition):
    names = [s.name for s in product.schedule_defs] + [s.name for s in product.sensor_defs]
    assert "customer_360_daily" in names
    page.goto("/automation")
    for name in names:
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    screenshot(page, "03_automation.png")


def test_the_materialize_button_launches_a_run_that_succeeds(page: Page):
    page.goto(CUSTOMERS)
    page.locator("button:enabled", has_text=MATERIALIZE).click()
    expect(page.get_by_text("Launched run")).to_be_visible()
    page.get_by_role("link", name="View", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]+"))

    try:
        expect(page.get_by_text(RUN_END_EVENT)).to_be_visible(timeout=RUN_TIMEOUT_MS)
    finally:
        screenshot(page, "04_run.png")
    expect(page.get_by_text(RUN_STATUS).first).to_have_text("Success")


def test_materialize_clicked_twice_quickly_starts_one_run_and_the_second_shows_why(
    page: Page, clicked_twice: tuple[str, list[DagsterRun]]
):
    first, runs = clicked_twice
    by_status = {run.status: run for run in runs}
    assert len(runs) == 2 and set(by_status) == {
        DagsterRunStatus.SUCCESS,
        DagsterRunStatus.CANCELED,
    }, runs
    assert by_status[DagsterRunStatus.SUCCESS].run_id == first
    second = by_status[DagsterRunStatus.CANCELED]
    assert (second.tags[REFUSED_TAG], second.tags[REFUSED_FOR_TAG]) == ("duplicate", first)

    page.goto(f"/runs/{second.run_id}")
    ends(page, "Canceled", "05_second_click_refused.png")
    expect(page.get_by_text(f"already queued or running as run {first}")).to_be_visible()


def test_re_executing_a_failed_run_from_the_ui_runs_again(page: Page, scratch: Path):
    """The run fails while a user's DuckDB session holds the warehouse's lock; closed, it runs."""
    session = duckdb.connect(str(scratch / "warehouse.duckdb"))
    try:
        page.goto(CUSTOMERS)
        page.locator("button:enabled", has_text=MATERIALIZE).click()
        page.get_by_role("link", name="View", exact=True).click()
        ends(page, "Failure", "06_run_failed_on_a_locked_warehouse.png")
        expect(page.get_by_text("Could not set lock on file").first).to_be_visible()
    finally:
        session.close()

    re_execute_all(page)
    ends(page, "Success", "06_failed_run_re_executed.png")


def test_re_executing_a_successful_run_from_the_ui_follows_the_run_key_rule(
    page: Page, clicked_twice: tuple[str, list[DagsterRun]], instance: DagsterInstance
):
    """It runs when nothing is in flight; re-executed again meanwhile, it is refused."""
    succeeded, _ = clicked_twice
    page.goto(f"/runs/{succeeded}")
    again = re_execute_all(page)

    page.goto(f"/runs/{succeeded}")
    refused = re_execute_all(page)
    ends(page, "Canceled", "07_re_execution_while_one_is_in_flight_refused.png")
    expect(page.get_by_text(f"already queued or running as run {again}")).to_be_visible()

    page.goto(f"/runs/{again}")
    ends(page, "Success", "07_successful_run_re_executed.png")
    assert instance.get_run_by_id(refused).tags[REFUSED_FOR_TAG] == again
