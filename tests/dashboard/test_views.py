"""The dashboard's server side: SQL views, figures, JSON and pages, the report file, hyperion.plot, CLI."""

from __future__ import annotations

import json
import re

import pytest

from hyperion import ConfigurationError, StorageError, tune
from hyperion.dashboard import figures
from hyperion.dashboard.app import create_app, report_html
from hyperion.dashboard.source import ResultSource, study_figures
from tests.cli import hyperion
from tests.dashboard import studies

pytestmark = pytest.mark.dashboard


def trials_of(storage, name):
    return storage.load_trials(name)


def test_figures_count_every_trial_of_a_known_study(storage):
    trials = trials_of(storage, "demo")
    done = [t for t in trials if t.state.value == "completed"]
    killed = [t for t in trials if t.state.value == "killed"]
    failed = [t for t in trials if t.state.value == "failed"]
    assert done and killed and failed  # the study has every state the figures tell apart
    figs = study_figures(storage, "demo")
    assert set(figs) == {
        "history",
        "importance",
        "contour",
        "rank",
        "slices",
        "parallel_coordinates",
        "intermediate",
        "timeline",
    }
    history = {t["name"]: t for t in figs["history"]["data"]}
    assert history["completed"]["x"] == [t.number for t in done]
    best = history["best so far"]
    running, expect = None, []
    for t in done:
        if running is None or t.value < running:
            running = t.value
            expect.append(t.number)
    assert best["x"][:-1] == expect and best["x"][-1] == max(t.number for t in trials)
    # one slice panel per searched parameter, one point per completed trial each
    assert [len(p["x"]) for p in figs["slices"]["data"]] == [len(done)] * 3
    dims = figs["parallel_coordinates"]["data"][0]["dimensions"]
    assert [d["label"] for d in dims] == ["log10 lr", "layers", "opt", "loss"]
    assert all(len(d["values"]) == len(done) for d in dims)
    curves = [t for t in figs["intermediate"]["data"] if t["mode"] == "lines"]
    assert len(curves) == len(done) + len(killed)  # failed trials reported nothing
    marks = next(t for t in figs["intermediate"]["data"] if t["mode"] == "markers")
    assert len(marks["x"]) == len(killed)
    at = {int(text.split(":")[0].split()[1]): x for text, x in zip(marks["text"], marks["x"])}
    assert at == {t.number: t.last_step for t in killed}  # each killed trial marked at the step it stopped
    # contour and rank: the two numeric parameters (lr, layers), one point per completed trial; the best
    # trial has rank 0 and the contour's grid passes near it (inverse-distance weights: exact at a point)
    points = next(t for t in figs["contour"]["data"] if t["type"] == "scatter")
    assert sorted(zip(points["x"], points["y"])) == sorted((t.params["lr"], t.params["layers"]) for t in done)
    assert figs["contour"]["layout"]["xaxis"]["type"] == "log"  # lr is log
    grid = figs["contour"]["data"][0]["z"]
    assert min(min(row) for row in grid) >= min(t.value for t in done) - 1e-9  # interpolation never overshoots
    assert max(max(row) for row in grid) <= max(t.value for t in done) + 1e-9
    ranked = figs["rank"]["data"][0]
    best = min(done, key=lambda t: t.value)
    at_best = ranked["marker"]["color"][ranked["x"].index(best.params["lr"])]
    assert at_best == 0 and max(ranked["marker"]["color"]) == 1 and len(ranked["x"]) == len(done)


def test_user_text_in_figures_is_escaped_where_plotly_reads_markup(storage):
    figs = study_figures(storage, "demo")
    assert _only_in_ticktext(figs)
    slices = figs["slices"]["data"][2]
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in slices["x"]
    tree = study_figures(storage, "tree")["lineage"]
    hover = tree["data"][-1]["text"]
    assert any("&lt;script&gt;" in h for h in hover) and not any("<script" in h for h in hover)


def _only_in_ticktext(figs):
    """Parallel coordinates draw tick text as plain text (never markup), so the raw option is right there."""
    raw = [t for d in figs["parallel_coordinates"]["data"][0]["dimensions"] for t in d.get("ticktext", [])]
    rest = json.dumps({k: v for k, v in figs.items() if k != "parallel_coordinates"})
    return "<script" not in rest and any("<script" in t for t in raw)


def test_lineage_links_each_child_to_its_parent_and_marks_the_best_path(storage):
    trials = {t.trial_id: t for t in trials_of(storage, "tree")}
    tree = study_figures(storage, "tree")["lineage"]
    nodes = tree["data"][-1]
    assert sorted(nodes["customdata"]) == sorted(t.number for t in trials.values())
    ys = dict(zip(nodes["customdata"], nodes["y"]))
    edges = []
    for trace in tree["data"][:-1]:
        xs, yv = trace["x"], trace["y"]
        edges += [(xs[i], yv[i], xs[i + 1], yv[i + 1]) for i in range(0, len(xs), 3)]
    expect = sorted(
        (trials[t.parent_id].depth, ys[trials[t.parent_id].number], t.depth, ys[t.number])
        for t in trials.values()
        if t.parent_id
    )
    assert sorted(edges) == expect
    best = min((t for t in trials.values() if t.value is not None), key=lambda t: t.value)
    path = next(t for t in tree["data"] if t["name"] == "best path")
    assert ys[best.number] in path["y"] or best.parent_id is None


def test_several_objectives_show_their_front(storage):
    figs = study_figures(storage, "mo")
    front = next(t for t in figs["pareto"]["data"] if t["name"] == "Pareto front")
    result_front = [t for t in trials_of(storage, "mo") if t.state.value == "completed"]
    assert len(front["x"]) == len(result_front)  # a / (1-a)^2: every trial is on the front


def test_importance_finds_the_parameter_that_decides():
    study = {"space": {"a": {"type": "Float"}, "b": {"type": "Float"}, "c": {"type": "Choice"}}}
    trials = [
        {
            "number": i,
            "value": (i % 17) * 1.0,
            "params": {"a": (i % 17) / 17, "b": ((i * 7919) % 101) / 101, "c": "xy"[i % 2]},
        }
        for i in range(200)
    ]
    scores = figures.importance_scores(study, trials)
    assert list(scores)[0] == "a" and scores["a"] > 0.9 and scores["b"] < 0.2 and scores["c"] < 0.1


def test_large_studies_are_thinned_in_sql(tmp_path):
    url = f"sqlite:///{tmp_path / 'big.db'}"
    tune(lambda ctx, x: x, {"x": studies.Float(0, 1)}, max_trials=500, storage=url, study_name="big", seed=0)
    from hyperion.dashboard.source import open_storage

    storage = open_storage(url)
    try:
        history = storage.history_view("big", cap=100)
        assert history["stride"] == 5 and len(history["points"]) == 100
        assert all(p["number"] % 5 == 0 for p in history["points"])
        sample = storage.sample_view("big", cap=120)
        assert sample["stride"] == 5 and len(sample["trials"]) == 100
        fig = figures.history(storage.study_view("big"), history)
        assert "every 5th trial" in fig["layout"]["title"]["text"]
    finally:
        storage.close()


def test_trial_table_sorts_filters_and_pages_in_sql(storage):
    trials = trials_of(storage, "demo")
    page = storage.trials_view("demo", sort="value", offset=0, limit=5)
    values = sorted(t.value for t in trials if t.value is not None)
    assert page["total"] == len(trials) and [r["value"] for r in page["rows"]] == values[:5]
    killed = storage.trials_view("demo", state="killed", limit=200)
    assert killed["total"] == sum(t.state.value == "killed" for t in trials)
    ranged = storage.trials_view("demo", ranges={"lr": (0.001, 0.02)}, limit=200)
    assert {r["number"] for r in ranged["rows"]} == {t.number for t in trials if 0.001 <= t.params["lr"] <= 0.02}
    chosen = storage.trials_view("demo", equals={"opt": studies.SCRIPT}, limit=200)
    assert {r["number"] for r in chosen["rows"]} == {t.number for t in trials if t.params["opt"] == studies.SCRIPT}
    second = storage.trials_view("demo", sort="number", descending=True, offset=5, limit=5)
    assert [r["number"] for r in second["rows"]] == sorted((t.number for t in trials), reverse=True)[5:10]
    with pytest.raises(StorageError, match="cannot sort trials by 'params'"):
        storage.trials_view("demo", sort="params")


def test_trial_view_has_reports_and_the_llm_call_that_proposed_it(storage):
    child = next(t for t in trials_of(storage, "tree") if t.rationale and t.rationale.startswith("LLM, child"))
    view = storage.trial_view("tree", child.number)
    assert len(view["source_events"]) == 1
    call = view["source_events"][0]
    suggested = json.loads(call["reply"])["suggestions"]
    assert {"parent": child.parent_id, "x": child.params["x"]} in [
        {"parent": s["parent"], "x": s["params"]["x"]} for s in suggested
    ]
    assert call["prompt"].startswith("Goal:") and call["used"] >= 1
    fallback = next(t for t in trials_of(storage, "tree") if t.rationale and t.rationale.startswith("perturbed"))
    assert storage.trial_view("tree", fallback.number)["source_events"] == []
    done = next(t for t in trials_of(storage, "demo") if t.state.value == "completed")
    assert [r["step"] for r in storage.trial_view("demo", done.number)["reports"]] == list(range(studies.STEPS))
    assert storage.trial_view("demo", 10_000) is None


@pytest.fixture(scope="module")
def client(storage):
    from starlette.testclient import TestClient

    return TestClient(create_app(storage), base_url="http://127.0.0.1")


def test_pages_and_json(client, storage):
    for path in (
        "/",
        "/studies/demo",
        "/studies/tree",
        "/studies/mo",
        "/studies/demo/trials/0",
        "/static/plotly.min.js",
    ):
        assert client.get(path).status_code == 200, path
    listing = client.get("/api/studies").json()
    assert [s["name"] for s in listing] == ["demo", "tree", "mo"]
    api = client.get("/api/studies/demo").json()
    assert api["study"]["trials"] == 30 and "history" in api["figures"]
    assert client.get("/api/studies/demo/seq").json()["seq"] == storage.seq_view("demo")
    page = client.get("/api/studies/demo/trials", params={"state": "killed", "p.lr": "0.0001:", "sort": "value"}).json()
    assert page["total"] == sum(t.state.value == "killed" for t in trials_of(storage, "demo"))
    missing = client.get("/studies/nope")
    assert missing.status_code == 404 and "no study named" in missing.text
    assert client.get("/api/studies/demo/trials", params={"p.lr": "a:b"}).status_code == 400
    assert client.get("/api/studies/demo/trials/999").status_code == 404


def test_pages_are_read_only_escaped_and_locked_down(client):
    assert client.post("/api/studies").status_code == 405
    html = client.get("/studies/demo").text
    # user text sits only in JSON data blocks, with every < escaped, so no tag can come from it
    assert "__pwned" in html and "<script>window.__pwned" not in html and "<img src=x" not in html
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    assert {b[0] for b in blocks} == {"data-study", "data-figures"}
    assert studies.SCRIPT in json.dumps(json.loads(blocks[1][1]))
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    trial = client.get("/studies/demo/trials/1").text
    assert "<img src=x" not in trial


def test_no_password_on_any_page(postgres_url):
    from starlette.testclient import TestClient

    from hyperion.dashboard.source import open_storage

    password = "s3cr3t-dashboard-pw"
    scheme, rest = postgres_url.split("://", 1)
    user, host = rest.split("@", 1)
    url = f"{scheme}://{user}:{password}@{host}"  # the test server trusts any password
    studies.demo(url, name="pg-demo", trials=12)
    storage = open_storage(url)
    try:
        client = TestClient(create_app(storage), base_url="http://127.0.0.1")
        for path in ("/", "/studies/pg-demo", "/api/studies", "/api/studies/pg-demo", "/studies/pg-demo/trials/0"):
            response = client.get(path)
            assert response.status_code == 200 and password not in response.text, path
        page = client.get("/api/studies/pg-demo/trials", params={"p.lr": "0.0001:0.05", "p.opt": "adam"}).json()
        assert all(r["params"]["opt"] == "adam" and r["params"]["lr"] <= 0.05 for r in page["rows"])
        assert password not in report_html(storage, "pg-demo")
        studies.tree(url, name="pg-tree")  # the LLM call lookup by JSON field, PostgreSQL's way
        child = next(t for t in storage.load_trials("pg-tree") if (t.rationale or "").startswith("LLM, child"))
        assert len(storage.trial_view("pg-tree", child.number)["source_events"]) == 1
    finally:
        storage.delete_study("pg-tree")
        storage.delete_study("pg-demo")
        storage.close()


def test_report_is_one_file_with_everything_inlined(storage):
    html = report_html(storage, "demo")
    assert (
        "<script src=" not in html
        and '<link rel="stylesheet"' not in html
        and "http://" not in html.split("<script>")[0]
    )
    assert "<script>window.__pwned" not in html
    rows = json.loads(re.search(r'id="data-rows">(.*?)</script>', html, re.S).group(1))
    assert len(rows) == 30


def test_report_and_dashboard_commands(stored, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    done = hyperion("report", "demo", "--storage", stored, "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0 and out.stat().st_size > 1_000_000, done.stderr
    missing = hyperion("report", "nope", "--storage", stored, cwd=tmp_path)
    assert missing.returncode == 1 and "no study named 'nope'" in missing.stderr
    nofile = hyperion("dashboard", "--storage", f"sqlite:///{tmp_path / 'absent.db'}", cwd=tmp_path)
    assert nofile.returncode == 1 and "no database at" in nofile.stderr

    import uvicorn

    from hyperion.cli import main

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(kw))
    assert main(["dashboard", "--storage", stored]) == 0
    assert served["host"] == "127.0.0.1" and served["port"] == 8080


def test_dashboard_on_another_host_warns(stored, monkeypatch, capsys):
    import uvicorn

    from hyperion.cli import main

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    assert main(["dashboard", "--storage", stored, "--host", "0.0.0.0", "--port", "9000"]) == 0
    assert "anyone who can reach this address can read every study" in capsys.readouterr().err


def test_plot_from_a_result_and_from_a_storage(stored, tmp_path):
    import hyperion.plot as hp

    result = tune(
        lambda ctx, x, c: (x - 0.2) ** 2,
        {"x": studies.Float(0, 1), "c": studies.Choice(["a", "b"])},
        max_trials=12,
        seed=0,
    )
    fig = hp.history(result)
    assert sum(len(t.x) for t in fig.data if t.name == "completed") == 12
    assert len(hp.slices(result).data) == 2 and len(hp.importance(result).data[0].y) == 2
    with pytest.raises(ConfigurationError, match="intermediate values are kept in the storage"):
        hp.intermediate(result)
    with pytest.raises(ConfigurationError, match="has no lineage"):
        hp.lineage(result)
    assert len(hp.lineage(stored, "tree").data[-1].x) == 12
    assert len(hp.pareto(stored, "mo").data) >= 1
    stored_result = studies.demo(f"sqlite:///{tmp_path / 'r.db'}")
    assert len(hp.intermediate(stored_result).data) > 10  # read back from the result's storage
    hp.parallel_coordinates(stored, "demo").write_html(tmp_path / "p.html")
    assert (tmp_path / "p.html").stat().st_size > 1000
    with pytest.raises(ConfigurationError, match="name the study"):
        hp.history(stored)
    with pytest.raises(ConfigurationError, match="expected a tune"):
        ResultSource({"x": 1})


def test_llm_agent_trials_link_to_their_call(tmp_path):
    from hyperion.dashboard.source import open_storage

    def llm(prompt):
        return json.dumps({"suggestions": [{"params": {"x": 0.25}, "rationale": "a quarter"}]})

    url = f"sqlite:///{tmp_path / 'a.db'}"
    tune(
        lambda ctx, x: x,
        {"x": studies.Float(0, 1)},
        strategy="llm_agent",
        max_trials=6,
        storage=url,
        study_name="agent",
        seed=0,
        strategy_kwargs={"llm": llm, "exploration_rate": 0.0, "timeout": 10},
    )
    storage = open_storage(url)
    try:
        trials = storage.load_trials("agent")
        proposed = [t for t in trials if (t.rationale or "").startswith("LLM: a quarter")]
        assert proposed
        for t in trials:
            calls = storage.trial_view("agent", t.number)["source_events"]
            assert len(calls) == (1 if t in proposed else 0)
            if calls:
                assert calls[0]["used"] == 1 and "a quarter" in calls[0]["reply"]
    finally:
        storage.close()


def test_only_the_hosts_it_was_started_for_are_answered(tmp_path):
    """DNS rebinding: a page at attacker.example whose name now points at 127.0.0.1 must get nothing."""
    from starlette.testclient import TestClient

    from hyperion.dashboard.source import open_storage

    url = f"sqlite:///{tmp_path / 'host.db'}"
    tune(lambda ctx, x: x, {"x": studies.Float(0, 1)}, storage=url, study_name="secret", max_trials=2)
    storage = open_storage(url)
    try:
        local = TestClient(create_app(storage), base_url="http://127.0.0.1:8080")
        assert local.get("/api/studies").status_code == 200
        assert "secret" in local.get("/api/studies", headers={"Host": "localhost:8080"}).text
        refused = local.get("/api/studies", headers={"Host": "attacker.example:8080"})
        assert refused.status_code == 400 and "secret" not in refused.text
        proxied = TestClient(create_app(storage, ["hpo.example.org"]), base_url="http://hpo.example.org")
        assert proxied.get("/api/studies").status_code == 200
        assert proxied.get("/api/studies", headers={"Host": "127.0.0.1"}).status_code == 400
    finally:
        storage.close()


def test_odd_names_numbers_filters_and_damaged_rows_are_clear_answers_never_500(tmp_path):
    """A study named like a sub-page is its own study; out-of-range numbers and a range on a Choice are
    400/404 with a reason; a hand-damaged row is a 400 that says the data is damaged; quotes in labels
    are shown as quotes."""
    import sqlite3

    from starlette.testclient import TestClient

    from hyperion import Choice, Float
    from hyperion.dashboard.source import open_storage

    url = f"sqlite:///{tmp_path / 'odd.db'}"
    space = {"x": Float(0, 1), "opt": Choice(['say "hi"', "b"])}
    for name in ("x", "x/seq", "x/trials", "x/trials/3", "100%/2F"):
        tune(lambda ctx, x, opt: x, space, storage=url, study_name=name, max_trials=2 + len(name), seed=1)
    storage = open_storage(url)
    try:
        client = TestClient(create_app(storage), base_url="http://127.0.0.1", raise_server_exceptions=False)
        from urllib.parse import quote

        for name in ("x/seq", "x/trials", "x/trials/3", "100%/2F"):
            answer = client.get(f"/api/studies/{quote(name, safe='')}")
            assert answer.status_code == 200 and answer.json()["study"]["name"] == name
            assert answer.json()["study"]["trials"] == 2 + len(name)
            assert client.get(f"/studies/{quote(name, safe='')}").status_code == 200
        big = str(10**30)
        assert client.get(f"/api/studies/x/trials?offset={big}").status_code == 400
        assert client.get(f"/api/studies/x/trials/{big}").status_code == 404
        assert client.get(f"/studies/x/trials/{big}").status_code == 404
        choice = client.get("/api/studies/x/trials?p.opt=1:2")
        assert choice.status_code == 400 and "applies to Float and Int parameters; opt is a Choice" in choice.text
        figures = client.get("/api/studies/x").text
        assert "&quot;" not in figures and '\\"hi\\"' in figures
    finally:
        storage.close()
    with sqlite3.connect(tmp_path / "odd.db") as conn:
        conn.execute("UPDATE hyperion_trials SET params = 'not json' WHERE number = 0")
    storage = open_storage(url)
    try:
        client = TestClient(create_app(storage), base_url="http://127.0.0.1", raise_server_exceptions=False)
        damaged = client.get("/api/studies/x")
        assert damaged.status_code == 400 and "the stored data is damaged" in damaged.text
        assert client.get("/studies/x").status_code == 400
    finally:
        storage.close()


def test_the_history_draws_every_trial_state_each_its_own_legend_entry(tmp_path):
    from hyperion import Float, ObjectiveResult
    from hyperion.dashboard.source import open_storage

    url = f"sqlite:///{tmp_path / 'states.db'}"

    def objective(ctx, x):
        if ctx.number % 7 == 3:
            raise RuntimeError("out of memory")
        for step in range(5):
            ctx.report(step=step, loss=x + step)
            if ctx.should_stop():
                return ObjectiveResult(metrics={"loss": x + step})
        return ObjectiveResult(metrics={"loss": x + 4})

    result = tune(
        objective,
        {"x": Float(0, 1)},
        storage=url,
        study_name="s",
        metric="loss",
        mode="min",
        early_stopping="median",
        max_trials=20,
        seed=0,
    )
    by_state: dict[str, list[int]] = {}
    for t in result["trials"]:
        by_state.setdefault(t["state"], []).append(t["number"])
    assert by_state.get("killed") and by_state.get("failed") and by_state.get("completed")
    storage = open_storage(url)
    try:
        fig = figures.history(storage.study_view("s"), storage.history_view("s"))
    finally:
        storage.close()
    traces = {t["name"]: t for t in fig["data"]}
    assert traces["completed"]["x"] == by_state["completed"]
    assert traces["killed (last report)"]["x"] == by_state["killed"]  # at their last reported loss
    assert all(y is not None for y in traces["killed (last report)"]["y"])
    failed = traces["failed (no value)"]
    assert failed["x"] == by_state["failed"] and failed["marker"]["symbol"] == "x"
    valued = [y for name, t in traces.items() if "no value" not in name and name != "best so far" for y in t["y"]]
    assert set(failed["y"]) == {max(valued)}  # along the worst edge of a loss (mode min)
    drawn = sum(len(t["x"]) for name, t in traces.items() if name != "best so far")
    assert drawn == len(result["trials"])  # every trial, none left out


def test_importance_on_few_trials_does_not_call_noise_important_and_says_it_is_few():
    """8 trials, one parameter that matters and four that do not: plain eta squared gave the four 1.0."""
    import random

    rng = random.Random(0)
    names = ["lr", "a", "b", "c", "d"]
    space = {n: {"type": "Float", "low": 0.0, "high": 1.0, "log": False} for n in names}
    trials = []
    for i in range(8):
        params = {n: rng.random() for n in names}
        trials.append({"number": i, "value": params["lr"] * 10 + rng.random() * 0.1, "params": params})
    study = {"metrics": ["score"], "modes": ["max"], "space": space}
    scores = figures.importance_scores(study, trials)
    assert scores["lr"] == max(scores.values()) and scores["lr"] > 0.5
    assert all(scores[n] < 0.8 for n in names[1:]), scores  # none of the noise parameters is "all of it"
    fig = figures.importance(study, {"trials": trials})
    assert "8 completed trials, too few to rank parameters reliably" in fig["layout"]["title"]["text"]


def test_axes_fit_their_labels_and_whole_numbers_get_whole_ticks():
    study = {
        "metrics": ["score"],
        "modes": ["max"],
        "space": {"fold": {"type": "Int", "low": 0, "high": 4, "log": False}},
    }
    view = {
        "stride": 1,
        "points": [{"number": i, "state": "completed", "value": i, "feasible": True} for i in range(5)],
        "best": [],
    }
    history = figures.history(study, view)
    assert history["layout"]["xaxis"]["dtick"] == 1 and history["layout"]["xaxis"]["automargin"] is True
    curves = {
        "metric": "score",
        "trials_with_reports": 1,
        "curves": [
            {
                "number": 0,
                "state": "completed",
                "steps": [0, 1, 2, 3, 4],
                "values": [1, 2, 3, 4, 5],
                "kill_reason": None,
            }
        ],
    }
    assert figures.intermediate(study, curves)["layout"]["xaxis"]["dtick"] == 1  # folds 0..4: no 0.5 tick
    trials = [{"number": i, "value": i, "params": {"fold": i % 5}} for i in range(10)]
    slices = figures.slices(study, {"stride": 1, "trials": trials})
    assert slices["layout"]["xaxis"]["dtick"] == 1 and slices["layout"]["yaxis"]["automargin"] is True


def test_the_timeline_shows_every_trial_on_the_worker_that_ran_it(tmp_path):
    from hyperion import Float
    from hyperion.dashboard.source import open_storage

    url = f"sqlite:///{tmp_path / 'tl.db'}"
    space = {"x": Float(0, 1)}
    inner: dict = {}

    def first(ctx, x):
        if ctx.number == 1:  # a second worker joins and runs some trials while this one waits here
            inner["r"] = tune(lambda ctx, x: x, space, storage=url, study_name="t", join=True, max_trials=6)
        return x

    tune(first, space, storage=url, study_name="t", join=True, max_trials=10)
    storage = open_storage(url)
    try:
        from hyperion.dashboard.timeline import timeline

        fig = timeline(storage.study_view("t"), storage.timeline_view("t"))
    finally:
        storage.close()
    bars = [(y, n) for trace in fig["data"] for y, n in zip(trace["y"], trace["customdata"])]
    assert sorted(n for _, n in bars) == list(range(10))  # every trial drawn once
    assert {y for y, _ in bars} == {"worker 1", "worker 2"}  # on the two workers that ran them
    assert all(x > 0 for trace in fig["data"] for x in trace["x"])


def test_a_third_party_storage_works_with_the_dashboard_the_report_and_the_plots(dict_storage):
    """A storage written against the declared contracts alone (tests/dict_storage.py): every page, the
    JSON API, the static report and hyperion.plot read it through the same views."""
    from starlette.testclient import TestClient

    import hyperion.plot
    from hyperion import Float, ObjectiveResult, tune

    url = "dictstore://dashboard"

    def objective(ctx, x, n):
        for step in range(3):
            ctx.report(step=step, loss=1 - x + step)
        return ObjectiveResult(score=x)

    tune(objective, {"x": Float(0, 1), "n": {"depth": 2}}, storage=url, study_name="third", max_trials=6, seed=0)
    from hyperion.dashboard.source import open_storage

    storage = open_storage(url)
    client = TestClient(create_app(storage), base_url="http://127.0.0.1")
    for path in (
        "/",
        "/studies/third",
        "/studies/third/trials/2",
        "/api/studies",
        "/api/studies/third",
        "/api/studies/third/seq",
        "/api/studies/third/trials?sort=value&desc=1",
        "/api/studies/third/trials/2",
    ):
        assert client.get(path).status_code == 200, path
    figures = client.get("/api/studies/third").json()["figures"]
    assert {"history", "importance", "slices", "parallel_coordinates", "intermediate", "timeline"} <= set(figures)
    assert len(client.get("/api/studies/third/trials/2").json()["reports"]) == 3
    assert "third" in report_html(storage, "third")
    assert hyperion.plot.intermediate(url, "third") is not None


def test_several_studies_compare_on_one_figure(tmp_path):
    from starlette.testclient import TestClient

    from hyperion.dashboard import pairs
    from hyperion.dashboard.source import open_storage

    url = f"sqlite:///{tmp_path / 'cmp.db'}"
    studies.demo(url, "first", trials=12)
    studies.demo(url, "second", trials=8)
    studies.two_objectives(url)
    storage = open_storage(url)
    views = [(storage.study_view(n), storage.history_view(n)) for n in ("first", "second", "mo")]
    fig = pairs.comparison(views)
    lines = {t["name"]: t for t in fig["data"]}
    assert (
        set(lines) == {"first", "second"} and "1 other study of another goal left out" in fig["layout"]["title"]["text"]
    )
    for name in ("first", "second"):
        best = storage.history_view(name)["best"]
        assert lines[name]["y"][: len(best)] == [b["value"] for b in best]  # its best so far, step by step
        assert lines[name]["x"][-1] == storage.study_view(name)["trials"] - 1  # drawn to its last trial
    client = TestClient(create_app(storage), base_url="http://127.0.0.1")
    page = client.get("/compare?study=first&study=second")
    assert page.status_code == 200 and "data-compared" in page.text
    assert client.get("/compare").status_code == 400
    assert client.get("/compare?study=nowhere").status_code == 404
    storage.close()


def test_the_trial_filter_applies_to_every_figure(storage, client):
    trials = trials_of(storage, "demo")
    lo, hi = sorted(t.params["lr"] for t in trials)[5], sorted(t.params["lr"] for t in trials)[-5]
    kept = {t.number for t in trials if lo <= t.params["lr"] <= hi}
    assert storage.numbers_view("demo", ranges={"lr": (lo, hi)}) == sorted(kept)
    done = [t for t in trials if t.number in kept and t.state.value == "completed"]
    figs = study_figures(storage, "demo", keep=kept)
    history = {t["name"]: t for t in figs["history"]["data"]}
    assert history["completed"]["x"] == [t.number for t in done]
    best, expect = None, []
    for t in done:  # the best so far of the kept trials alone
        if best is None or t.value < best:
            best = t.value
            expect.append(t.number)
    assert history["best so far"]["x"][: len(expect)] == expect
    assert [len(p["x"]) for p in figs["slices"]["data"]] == [len(done)] * 3
    bars = sum(len(d.get("y") or []) for d in figs["timeline"]["data"])
    assert bars == len(kept)
    answer = client.get(f"/api/studies/demo?state=killed&p.lr={lo}:{hi}").json()["figures"]
    assert "completed" not in {t["name"] for t in answer["history"]["data"] if t.get("x")}
    assert client.get("/api/studies/demo?p.opt=1:2").status_code == 400  # a range on a Choice says why
