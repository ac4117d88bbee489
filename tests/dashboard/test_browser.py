"""The dashboard and the report in a real browser: Debian's chromium, driven by Playwright (the browser
is the system one; nothing is downloaded). Set HYPERION_SCREENSHOTS=dir to keep a screenshot of each
page (docs/dashboard.md shows them)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hyperion.dashboard.app import create_app, report_html
from tests.dashboard import studies

pytestmark = [pytest.mark.dashboard, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = os.environ.get("HYPERION_SCREENSHOTS")


def _need_browser():
    try:
        import playwright  # noqa: F401
    except ImportError:
        why = "playwright is not installed (pip install -e '.[dev]')"
    else:
        why = None if CHROMIUM else "no chromium on this machine (apt-get install -y chromium; .ci/run does)"
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(storage):
    """The dashboard app served by uvicorn on a free local port, in a thread of this process."""
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(create_app(storage), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the dashboard did not start in 20 s"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


class Page:
    """A page with its console errors and uncaught exceptions collected."""

    def __init__(self, browser, **context):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, url: str, shot: str | None = None):
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready]", timeout=20_000)
        assert self.page.get_attribute("body", "data-ready") == "true", self.errors
        if SHOTS and shot:
            Path(SHOTS).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(SHOTS) / f"{shot}.png"), full_page=True)
        return self.page

    def points(self, figure: str, trace: str | None = None) -> int:
        """Markers drawn in the SVG of one figure (optionally of the trace with that legend name)."""
        return self.page.evaluate(
            """([fig, name]) => {
                const gd = document.getElementById('fig-' + fig);
                const traces = Array.from(gd.querySelectorAll('.scatterlayer .trace'));
                return traces.filter((t, i) => name === null || gd.data[i].name === name)
                    .reduce((n, t) => n + t.querySelectorAll('.point').length, 0);
            }""",
            [figure, trace],
        )

    def close(self):
        self.context.close()


def test_pages_load_clean_and_draw_every_trial(browser, server, storage):
    trials = storage.load_trials("demo")
    done = [t for t in trials if t.state.value == "completed"]
    killed = [t for t in trials if t.state.value == "killed"]
    page = Page(browser)
    try:
        p = page.open(server + "/", "studies")
        assert p.locator("#studies tbody tr").count() == 3
        p = page.open(server + "/studies/demo", "study")
        assert page.points("history", "completed") == len(done)
        assert page.points("history", "killed (last report)") == len(killed)  # every state is drawn
        assert page.points("intermediate", "killed (at the step it stopped)") == len(killed)
        assert page.points("slices") == 3 * len(done)
        assert page.points("contour") == len(done)  # the trials over the contour (its one scatter trace)
        assert page.points("rank") == len(done)
        bars = "document.querySelectorAll('#fig-timeline .barlayer .point').length"
        assert p.evaluate(bars) == len(trials)  # one bar per trial on the timeline
        assert p.locator("#fig-parallel_coordinates .axis-heading").count() == 4  # lr, layers, opt, loss
        lines = "document.getElementById('fig-parallel_coordinates')._fullData[0].dimensions[0].values.length"
        assert p.evaluate(lines) == len(done)
        assert p.locator("#trials tbody tr").count() == len(trials)
        # sort by value, then only the killed trials
        p.click("th[data-sort=value]")
        p.wait_for_function(
            "n => document.querySelector('#trials tbody tr').dataset.number === n",
            arg=str(min(done, key=lambda t: t.value).number),
            timeout=10_000,
        )
        p.select_option("select[name=state]", "killed")
        p.click("#apply-filter")
        p.wait_for_function(f"document.querySelectorAll('#trials tbody tr').length === {len(killed)}", timeout=10_000)
        p = page.open(server + f"/studies/demo/trials/{done[0].number}", "trial")
        assert p.locator("#reports tr").count() == studies.STEPS + 1
        best = min(done, key=lambda t: t.value)
        p = page.open(server + f"/studies/demo/trials/{best.number}", "trial-best")
        rows = p.locator("#checkpoints tr").all_text_contents()
        assert len(rows) == 2 and rows[1].startswith(str(studies.STEPS - 1))  # its last checkpoint, listed
        assert f"epoch {studies.STEPS - 1}" in p.locator("pre.stdout").text_content()  # the output it kept
        assert p.locator("pre.stderr").count() == 0  # nothing on standard error: no empty block
        assert page.errors == []
    finally:
        page.close()


def test_user_text_shows_as_text_and_never_runs(browser, server, storage):
    page = Page(browser)
    try:
        p = page.open(server + "/studies/demo")
        cells = p.locator("#trials tbody td").all_text_contents()
        assert studies.SCRIPT in cells
        assert studies.SCRIPT in " ".join(p.locator("#fig-slices text").all_text_contents())
        failed = next(t for t in storage.load_trials("demo") if t.state.value == "failed")
        p = page.open(server + f"/studies/demo/trials/{failed.number}")
        assert studies.IMG in p.locator("pre.error").text_content()
        p = page.open(server + "/studies/demo/trials/0")
        assert studies.SCRIPT in p.locator("pre.stdout").text_content()  # a program's output is text
        child = next(t for t in storage.load_trials("tree") if (t.rationale or "").startswith("LLM, child"))
        p = page.open(server + f"/studies/tree/trials/{child.number}", "trial-llm")
        assert studies.SCRIPT in p.locator("pre.rationale").text_content()
        assert studies.SCRIPT in p.locator("pre.reply").text_content()
        assert p.evaluate("window.__pwned") is None
        assert page.errors == []
    finally:
        page.close()


def test_lineage_tree_shows_the_right_parents(browser, server, storage):
    trials = {t.trial_id: t for t in storage.load_trials("tree")}
    page = Page(browser)
    try:
        p = page.open(server + "/studies/tree", "lineage")
        assert page.points("lineage", "trials") == len(trials)
        # every drawn edge joins a trial to its stored parent: read the figure the page drew
        drawn = p.evaluate(
            """() => {
                const gd = document.getElementById('fig-lineage');
                const nodes = gd.data[gd.data.length - 1];
                const at = {};
                nodes.x.forEach((x, i) => { at[x + ',' + nodes.y[i]] = nodes.customdata[i]; });
                const edges = [];
                for (const t of gd.data.slice(0, -1))
                    for (let i = 0; i + 1 < t.x.length; i += 3)
                        edges.push([at[t.x[i] + ',' + t.y[i]], at[t.x[i + 1] + ',' + t.y[i + 1]]]);
                return edges;
            }"""
        )
        by_number = {t.number: t for t in trials.values()}
        expect = sorted([trials[t.parent_id].number, t.number] for t in trials.values() if t.parent_id)
        assert sorted(drawn) == expect and all(by_number[c].parent_id for _, c in drawn)
        assert page.errors == []
    finally:
        page.close()


RUNNER = """
import sys, time
from pathlib import Path
from hyperion import Float, ObjectiveResult, tune
go = Path(sys.argv[2])
def objective(ctx, x):
    if ctx.trial_id >= "trial_0003":
        deadline = time.monotonic() + 60
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return ObjectiveResult(score=x)
tune(objective, {"x": Float(0, 1)}, max_trials=6, storage=sys.argv[1], study_name="live", seed=0)
"""


def test_a_study_running_in_another_process_gains_points_on_an_open_page(browser, server, storage, stored, tmp_path):
    go = tmp_path / "go"
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, stored, str(go)], stdin=subprocess.DEVNULL)
    page = Page(browser)
    try:
        deadline = time.monotonic() + 60
        while not any(s["name"] == "live" and s["completed"] >= 3 for s in storage.list_studies()):
            assert time.monotonic() < deadline and runner.poll() is None, "the background study did not start"
            time.sleep(0.1)
        p = page.open(server + "/studies/live")
        assert page.points("history", "completed") == 3
        go.touch()  # let the other process finish its last three trials
        p.wait_for_function(
            """() => { const gd = document.getElementById('fig-history');
                       const t = gd.data.find(d => d.name === 'completed'); return t && t.x.length === 6; }""",
            timeout=30_000,
        )
        assert page.points("history", "completed") == 6
        assert runner.wait(30) == 0
        assert page.errors == []
    finally:
        go.touch()
        runner.kill()
        page.close()


def test_the_report_renders_with_the_network_off(browser, storage, tmp_path):
    report = tmp_path / "report.html"
    report.write_text(report_html(storage, "demo"), encoding="utf-8")
    page = Page(browser, offline=True)
    requests: list[str] = []
    page.context.route(
        "**/*",
        lambda route: (
            (requests.append(route.request.url), route.continue_())[1]
            if route.request.url.startswith("file:")
            else (requests.append(route.request.url), route.abort())[1]
        ),
    )
    try:
        p = page.open(report.as_uri(), "report")
        done = [t for t in storage.load_trials("demo") if t.state.value == "completed"]
        assert page.points("history", "completed") == len(done)
        assert all(u.startswith("file:") for u in requests), requests
        p.click("#trials tbody tr:first-child a")
        assert p.locator("#trial-detail h2").text_content().startswith("trial_0000")
        assert page.errors == []
    finally:
        page.close()


def test_two_studies_picked_in_the_list_open_their_comparison(browser, server, storage):
    page = Page(browser)
    try:
        p = page.open(server + "/")
        assert p.locator("#compare").is_hidden()
        p.locator('input.pick[data-name="demo"]').check()
        p.locator('input.pick[data-name="tree"]').check()
        assert p.locator("#compare").text_content() == "compare 2 studies"
        p.locator("#compare").click()
        p.wait_for_selector("body[data-ready]", timeout=20_000)
        assert p.get_attribute("body", "data-ready") == "true", page.errors
        assert p.locator("#compared tbody tr").count() == 2
        lines = p.evaluate("document.getElementById('fig-comparison').data.map((t) => t.name)")
        assert lines == ["demo"]  # tree optimises another metric: left out, and the title says so
        assert "another goal left out" in p.locator("#fig-comparison .gtitle").text_content()
        assert not page.errors
    finally:
        page.close()


def test_a_filter_of_the_trial_table_applies_to_every_figure(browser, server, storage):
    trials = storage.load_trials("demo")
    page = Page(browser)
    try:
        p = page.open(server + "/studies/demo")
        before = page.points("history")
        p.select_option("#trial-filter select[name=state]", "completed")
        p.click("#apply-filter")
        done = [t for t in trials if t.state.value == "completed"]
        p.wait_for_function(
            "n => document.querySelectorAll('#fig-history .scatterlayer .trace .point').length < n", arg=before
        )
        assert page.points("history", "completed") == len(done)
        assert page.points("history", "killed (last report)") == 0
        assert page.points("slices") == 3 * len(done)
        assert p.locator("#trials tbody tr").count() == len(done)
        assert not page.errors
    finally:
        page.close()
