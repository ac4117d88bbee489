"""Objectives that are programs (hyperion.Command) and studies run from a file (`hyperion run`, `hyperion
agent`): the line protocol, each trial's directory and variables, failures with their stderr, early stopping
that ends the program's whole process group."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

from hyperion import Choice, ConfigurationError, Float, HyperionWarning, Int, Policy, load_study, tune
from hyperion.command import Command
from tests.cli import ROOT
from tests.cli import hyperion as _cli

PY = sys.executable

TRAIN = """\
import json, os, sys, time
lr, name = float(sys.argv[1]), sys.argv[2]
for step in range(3):
    print("hyperion.report", json.dumps({"step": step, "loss": lr * (3 - step)}), flush=True)
print("some other output")
with open("seen.json", "w") as f:
    json.dump({k: v for k, v in os.environ.items() if k.startswith("HYPERION_")} | {"name": name}, f)
print("hyperion.result", json.dumps({"loss": lr, "score": -lr}))
"""


def test_a_program_reports_as_it_goes_in_its_own_directory(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    command = Command([PY, "train.py", "{lr}", "{opt}"], study="prog", workdir=tmp_path / "runs", base_dir=tmp_path)
    space = {"lr": Float(0.1, 1.0), "opt": Choice(["adam w", "sgd"])}  # a value with a space stays one argument
    result = tune(command, space, metric="loss", mode="min", max_trials=3, seed=0, study_name="prog", storage=None)
    assert result["study"]["completed"] == 3
    for trial in result["trials"]:
        folder = tmp_path / "runs" / "prog" / trial["trial_id"]
        seen = json.loads((folder / "seen.json").read_text())
        assert seen["name"] == trial["params"]["opt"] and seen["HYPERION_TRIAL_ID"] == trial["trial_id"]
        assert seen["HYPERION_TRIAL_DIR"] == str(folder) and seen["HYPERION_STUDY"] == "prog"
        assert json.loads(seen["HYPERION_PARAMS"]) == trial["params"]
        assert (folder / "checkpoints").is_dir() and "some other output" in (folder / "stdout.log").read_text()
        assert trial["value"] == trial["params"]["lr"] and trial["score"] == -trial["params"]["lr"]
        assert trial["last_step"] == 2
        assert trial["artifacts"]["dir"] == str(folder) and "some other output" in trial["artifacts"]["stdout_tail"]


def test_a_failing_program_fails_its_trial_with_the_end_of_its_stderr(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("import sys\nprint('loading data', file=sys.stderr)\nraise SystemExit('CUDA out of memory')\n")
    with pytest.warns(HyperionWarning, match="failed"):
        result = tune(
            Command(f"{PY} bad.py --lr {{lr}}", base_dir=tmp_path, workdir=tmp_path / "r"),
            {"lr": Float(0, 1)},
            max_trials=1,
        )
    error = result["trials"][0]["error"]
    assert result["trials"][0]["state"] == "failed"
    assert "exited with code 1" in error and "loading data" in error and "CUDA out of memory" in error
    silent = tmp_path / "silent.py"
    silent.write_text("print('hello')\n")
    with pytest.warns(HyperionWarning, match="failed"):
        result = tune(
            Command([PY, "silent.py"], base_dir=tmp_path, workdir=tmp_path / "r"), {"lr": Float(0, 1)}, max_trials=1
        )
    assert "printed no result" in result["trials"][0]["error"]


def test_placeholders_are_checked_and_a_shell_command_quotes_every_value(tmp_path):
    with pytest.raises(ConfigurationError, match=r"names \{lrr\}, which the space does not have"):
        Command("python t.py {lrr}").check(["lr"])
    command = Command("echo {name}; echo hyperion.result {lr}", shell=True, base_dir=tmp_path, workdir=tmp_path / "r")
    assert command.argv({"name": "a; rm -rf /", "lr": 0.5}) == [
        "/bin/sh",
        "-c",
        "echo 'a; rm -rf /'; echo hyperion.result 0.5",
    ]
    result = tune(command, {"name": Choice(["$(touch pwned)"]), "lr": Float(0, 1)}, max_trials=1, seed=0)
    assert result["best"]["score"] == result["trials"][0]["params"]["lr"]
    assert not list(tmp_path.rglob("pwned"))  # the value was text, never run
    with pytest.raises(ConfigurationError, match="command must be a string or a list"):
        Command(["python", 3])


def _running(pid: int) -> bool:
    """The process is there and not a zombie (an ended child its parent did not wait for)."""
    from pathlib import Path

    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class StopAtStep(Policy):
    def should_stop(self, study, trial):
        return "enough" if trial.last_step is not None and trial.last_step >= 1 else None


def test_early_stopping_ends_the_program_and_its_children(tmp_path):
    """The program starts a child that would outlive it; a stop ends the whole process group."""
    (tmp_path / "long.py").write_text(
        textwrap.dedent(
            """\
            import json, os, subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            open("child.pid", "w").write(str(child.pid))
            for step in range(1000):
                print("hyperion.report", json.dumps({"step": step, "loss": 1.0}), flush=True)
                time.sleep(0.05)
            open("finished", "w").write("yes")
            """
        )
    )
    command = Command([PY, "long.py"], base_dir=tmp_path, workdir=tmp_path / "r", grace_period_s=2.0)
    result = tune(command, {"x": Float(0, 1)}, metric="loss", mode="min", max_trials=1, early_stopping=StopAtStep())
    trial = result["trials"][0]
    assert trial["state"] == "killed" and trial["kill_reason"] == "enough"
    folder = tmp_path / "r" / "study" / trial["trial_id"]
    assert not (folder / "finished").exists()
    assert not _running(int((folder / "child.pid").read_text()))


STUDY = """\
metric: loss
mode: min
strategy: random
max_trials: 4
seed: 0
objective: objectives.py:quadratic
space:
  x: {float: [-2, 2]}
  n: {int: [1, 3]}
"""


OBJECTIVES = """\
from hyperion import ObjectiveResult

def quadratic(ctx, x, n):
    return ObjectiveResult(metrics={"loss": x * x + n})
"""


def test_hyperion_run_takes_a_python_function_or_a_command_from_the_file(tmp_path):
    (tmp_path / "objectives.py").write_text(
        "def quadratic(ctx, x, n):\n    return {'loss': x * x + n}\n".replace(
            "return {'loss': x * x + n}",
            "from hyperion import ObjectiveResult\n    return ObjectiveResult(metrics={'loss': x * x + n})",
        )
    )
    (tmp_path / "study.yaml").write_text(STUDY)
    url = f"sqlite:///{tmp_path / 's.db'}"
    ran = _cli("run", "study.yaml", "--storage", url, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    result = load_study("study", storage=url)
    assert result["study"]["completed"] == 4 and result["best"]["value"] == min(t["value"] for t in result["trials"])

    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "cmd.yaml").write_text(
        STUDY.replace("objective: objectives.py:quadratic", f"command: {PY} train.py {{x}} n{{n}}")
    )
    ran = _cli("run", "cmd.yaml", "--storage", url, "--max-trials", "3", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert load_study("cmd", storage=url)["study"]["completed"] == 3
    assert len(list((tmp_path / ".hyperion" / "runs" / "cmd").iterdir())) == 3


def test_several_workers_and_a_later_agent_share_one_study(tmp_path):
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    (tmp_path / "study.yaml").write_text(STUDY.replace("max_trials: 4", "max_trials: 9"))
    url = f"sqlite:///{tmp_path / 'w.db'}"
    ran = _cli("run", "study.yaml", "--storage", url, "--workers", "3", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "9 trials by 3 workers" in ran.stdout
    study = load_study("study", storage=url)
    assert study["study"]["completed"] == 9 and sorted(t["number"] for t in study["trials"]) == list(range(9))
    more = _cli("agent", "study", "--max-trials", "11", cwd=tmp_path, env={"HYPERION_STORAGE": url})
    assert more.returncode == 0, more.stderr
    assert load_study("study", storage=url)["study"]["completed"] == 11


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("objective: objectives.py:quadratic\n", ""), "give the objective as `objective: module:function`"),
        (("objectives.py:quadratic", "objectives.py:nothing"), "has no function 'nothing'"),
        (("objectives.py:quadratic", "no_such_module:f"), "cannot import the objective module 'no_such_module'"),
        (
            ("objective: objectives.py:quadratic", "command: python t.py {lr}"),
            "names {lr}, which the space does not have",
        ),
        (("max_trials: 4", "max_trials: 0"), "max_trials"),
    ],
)
def test_a_bad_study_file_is_refused_before_any_trial(tmp_path, change, fragment):
    (tmp_path / "objectives.py").write_text("def quadratic(ctx, x, n):\n    return x\n")
    (tmp_path / "study.yaml").write_text(STUDY.replace(*change))
    ran = _cli("run", "study.yaml", cwd=tmp_path)
    assert ran.returncode == 1 and fragment in ran.stderr and "Traceback" not in ran.stderr, ran.stderr
    assert not (tmp_path / ".hyperion").exists()


def test_an_agent_needs_a_study_that_hyperion_run_started(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    tune(lambda ctx, x: x, {"x": Float(0, 1)}, storage=url, study_name="py", max_trials=1)
    ran = _cli("agent", "py", "--storage", url, cwd=tmp_path)
    assert ran.returncode == 1 and "was not started by `hyperion run`" in ran.stderr
    assert Int  # the space kinds above come from hyperion, as a user writes them


def test_a_killed_worker_is_replaced_and_its_trial_runs_again(tmp_path):
    """The first trial SIGKILLs its own worker: `run --workers 2` starts another, and the interrupted
    trial runs again with its number; the study ends complete with contiguous numbers."""
    (tmp_path / "objectives.py").write_text(
        textwrap.dedent(
            """\
            import os, signal
            from pathlib import Path
            from hyperion import ObjectiveResult

            def dies_once(ctx, x, n):
                marker = Path(__file__).with_name("died")
                if ctx.number == 0 and not marker.exists():
                    marker.write_text(str(os.getpid()))
                    os.kill(os.getpid(), signal.SIGKILL)
                return ObjectiveResult(metrics={"loss": x * x + n})
            """
        )
    )
    (tmp_path / "study.yaml").write_text(
        STUDY.replace("objectives.py:quadratic", "objectives.py:dies_once").replace("max_trials: 4", "max_trials: 8")
    )
    url = f"sqlite:///{tmp_path / 'k.db'}"
    ran = _cli("run", "study.yaml", "--storage", url, "--workers", "2", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "a worker was killed (SIGKILL); starting another" in ran.stderr
    study = load_study("study", storage=url)
    assert study["study"]["completed"] == 8 and sorted(t["number"] for t in study["trials"]) == list(range(8))
    assert (tmp_path / "died").exists()


def test_a_bash_script_is_an_objective_too(tmp_path):
    (tmp_path / "train.sh").write_text(
        textwrap.dedent(
            """\
            #!/bin/bash
            lr=$1
            for step in 0 1 2; do
              echo "hyperion.report {\\"step\\": $step, \\"loss\\": $(python3 -c "print($lr * (3 - $step))")}"
            done
            echo "epoch log line"
            python3 -c "print($lr)"
            """
        )
    )
    (tmp_path / "bash.yaml").write_text(
        "metric: loss\nmode: min\nmax_trials: 3\nseed: 0\ncommand: bash train.sh {lr}\nspace:\n  lr: {float: [0.1, 1.0]}\n"
    )
    url = f"sqlite:///{tmp_path / 'b.db'}"
    ran = _cli("run", "bash.yaml", "--storage", url, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    study = load_study("bash", storage=url)
    assert study["study"]["completed"] == 3
    for trial in study["trials"]:  # the last line, a bare number, is the score; loss was reported
        assert trial["score"] == pytest.approx(trial["params"]["lr"]) and trial["last_step"] == 2


def test_sigterm_to_hyperion_run_ends_the_programs_and_a_second_run_resumes(tmp_path):
    """A job scheduler's SIGTERM: the running program (and its child) end, the trial is stored as
    interrupted, and running the same file again runs that trial again with its number."""
    import os
    import signal
    import subprocess
    import time

    (tmp_path / "slow.py").write_text(
        textwrap.dedent(
            """\
            import os, subprocess, sys, time
            if os.path.exists(os.path.join(os.environ["HYPERION_TRIAL_DIR"], "..", "..", "..", "..", "fast")):
                print("hyperion.result 1.0")
                sys.exit(0)
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            with open(os.path.join(os.environ["HYPERION_TRIAL_DIR"], "..", "..", "..", "..", "pids"), "w") as f:
                f.write(f"{os.getpid()} {child.pid}")
            time.sleep(600)
            """
        )
    )
    (tmp_path / "study.yaml").write_text(
        f"max_trials: 2\nseed: 0\ncommand: {PY} slow.py\nspace:\n  x: {{float: [0, 1]}}\n"
    )
    url = f"sqlite:///{tmp_path / 't.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen(
        [PY, "-m", "hyperion", "run", "study.yaml", "--storage", url],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    pids = tmp_path / "pids"
    for _ in range(600):  # the program wrote its pids: it is running (bounded: 60 s)
        if pids.exists() and pids.read_text():
            break
        time.sleep(0.1)
    program, child = map(int, pids.read_text().split())
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    for pid in (program, child):
        assert not _running(pid)
    assert load_study("study", storage=url)["study"]["interrupted"] == 1
    (tmp_path / "fast").write_text("")
    again = _cli("run", "study.yaml", "--storage", url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    study = load_study("study", storage=url)
    assert study["study"]["completed"] == 2 and [t["number"] for t in study["trials"]] == [0, 1]


def test_two_agents_on_postgresql_finish_one_study_with_contiguous_numbers(tmp_path, postgres_url):
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    (tmp_path / "study.yaml").write_text(STUDY.replace("max_trials: 4", "max_trials: 10"))
    ran = _cli("run", "study.yaml", "--storage", postgres_url, "--study", "pg-agents", "--workers", "2", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    study = load_study("pg-agents", storage=postgres_url)
    assert study["study"]["completed"] == 10 and sorted(t["number"] for t in study["trials"]) == list(range(10))


def test_a_study_stored_for_a_job_array_is_worked_by_its_agents(tmp_path):
    (tmp_path / "objectives.py").write_text(OBJECTIVES)
    (tmp_path / "study.yaml").write_text(STUDY)
    url = f"sqlite:///{tmp_path / 'array.db'}"
    stored = _cli("run", "study.yaml", "--storage", url, "--workers", "0", cwd=tmp_path)
    assert stored.returncode == 0 and "hyperion agent study" in stored.stdout, stored.stderr
    assert load_study("study", storage=url)["study"]["trials"] == 0
    for _ in range(2):  # two array tasks, one after the other here
        assert _cli("agent", "study", cwd=tmp_path, env={"HYPERION_STORAGE": url}).returncode == 0
    study = load_study("study", storage=url)["study"]
    assert (study["trials"], study["completed"]) == (4, 4)


def test_a_command_study_runs_on_the_process_executor_from_its_file(tmp_path):
    """executor: process in the file: each worker process runs the programs of its trials (the way a
    trial gets its own GPU with resources_per_trial)."""
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "proc.yaml").write_text(
        f"metric: loss\nmode: min\nmax_trials: 4\nmax_concurrent: 2\nexecutor: process\nseed: 0\n"
        f"command: {PY} train.py {{lr}} w\nspace:\n  lr: {{float: [0.1, 1.0]}}\n"
    )
    url = f"sqlite:///{tmp_path / 'p.db'}"
    ran = _cli("run", "proc.yaml", "--storage", url, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    study = load_study("proc", storage=url)
    assert study["study"]["completed"] == 4
    assert all(t["value"] == t["params"]["lr"] for t in study["trials"])


RESUMABLE = """\
import json, os, sys, time
from pathlib import Path
here = Path(sys.argv[1])
ckpt, resume = Path(os.environ["HYPERION_CHECKPOINT_DIR"]), os.environ.get("HYPERION_RESUME_DIR")
start = int(Path(resume, "epoch.txt").read_text()) + 1 if resume else 0
with open(here / "starts.txt", "a") as f:
    f.write(f"{start} {os.environ.get('HYPERION_RESUME_STEP', '-')}\\n")
for epoch in range(start, 6):
    print("hyperion.report", json.dumps({"step": epoch, "loss": 1 / (epoch + 1)}), flush=True)
    (ckpt / "epoch.txt").write_text(str(epoch))
    print("hyperion.checkpoint", json.dumps({"step": epoch}), flush=True)
    if epoch == 3 and not resume:
        (here / "pid").write_text(str(os.getpid()))
        time.sleep(120)  # the test kills tune() (and this program) here
"""


def test_a_program_checkpoints_through_the_protocol_and_continues_after_a_crash(tmp_path):
    import os
    import signal
    import sqlite3
    import subprocess
    import time

    (tmp_path / "train.py").write_text(RESUMABLE)
    db = tmp_path / "c.db"
    script = tmp_path / "study.py"
    script.write_text(
        textwrap.dedent(
            f"""\
            from hyperion import Command, Float, tune
            tune(Command([{PY!r}, "train.py", {str(tmp_path)!r}], base_dir={str(tmp_path)!r},
                         workdir={str(tmp_path / "runs")!r}),
                 {{"lr": Float(0, 1)}}, metric="loss", mode="min", max_trials=1,
                 storage="sqlite:///{db}", study_name="c")
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")])}
    first = subprocess.Popen([PY, str(script)], cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    recorded = 0
    while recorded == 0 and first.poll() is None and time.monotonic() < deadline:  # bounded
        time.sleep(0.05)
        if db.exists():
            with sqlite3.connect(db) as con:
                try:
                    recorded = con.execute("SELECT COUNT(*) FROM hyperion_checkpoints WHERE step = 3").fetchone()[0]
                except sqlite3.OperationalError:  # the tables are not made yet
                    pass
    assert recorded == 1, "the checkpoint of epoch 3 was never recorded"
    first.kill()  # tune() dies mid-trial; its program is ended too (it would sleep on)
    first.wait(timeout=60)
    os.kill(int((tmp_path / "pid").read_text()), signal.SIGKILL)
    second = subprocess.run([PY, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    # afresh, then from the checkpoint of epoch 3 that the first run recorded
    assert (tmp_path / "starts.txt").read_text().splitlines() == ["0 -", "4 3"]
    study = load_study("c", storage=f"sqlite:///{db}")
    assert study["trials"][0]["state"] == "completed" and study["trials"][0]["last_step"] == 5
