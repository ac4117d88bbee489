"""An objective that is a program: `Command("python train.py --lr {lr} --layers {layers}")` runs it once
per trial and reads what it prints.

The program reports as it goes with lines on its standard output (any language can print them):

    hyperion.report {"step": 3, "val_loss": 0.41}
    hyperion.checkpoint {"step": 3}
    hyperion.result {"val_loss": 0.38, "accuracy": 0.91}

A report is `ctx.report(...)` (early stopping reads it); the result is the trial's metrics (its
"score", if given, the score). Without a result line the last report's metrics are the result; a last
line that is a bare number is the score. Each trial runs in its own directory
(`<workdir>/<study>/<trial_id>`, its working directory) with `HYPERION_STUDY`, `HYPERION_TRIAL_NUMBER`,
`HYPERION_TRIAL_ID`, `HYPERION_TRIAL_DIR`, `HYPERION_CHECKPOINT_DIR` and `HYPERION_PARAMS` (JSON) in
its environment; its standard output and error are kept there (`stdout.log`, `stderr.log`, capped).
`hyperion.checkpoint {"step": 3}` makes the files now in `HYPERION_CHECKPOINT_DIR` the trial's
checkpoint at that step (copied to the study's store); a trial that continues from one (a resume, a
promotion, PBT) finds it in `HYPERION_RESUME_DIR`, its step in `HYPERION_RESUME_STEP`.
When early stopping stops the trial, the program's process group gets SIGTERM, then SIGKILL after
`grace_period_s`. A program that exits non-zero fails its trial with the tail of its standard error.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from hyperion_core.errors import CheckpointError, ConfigurationError, ObjectiveError
from hyperion_core.models import ObjectiveResult
from hyperion_core.space import Space, flatten

#: A placeholder in a command: {lr}, {model.depth}, {optimizer[adam].beta1}; {{ and }} are braces.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.\[\]-]*)\}")
REPORT, RESULT, CHECKPOINT = "hyperion.report", "hyperion.result", "hyperion.checkpoint"
#: The longest the trial waits between two looks at its stop flag while the program is silent.
POLL_S = 0.2
STDERR_TAIL_LINES = 20

#: The programs running now: when this process exits (Ctrl-C, an error, SIGTERM through `hyperion run`)
#: their process groups end too, instead of training on as orphans.
_LIVE: set[subprocess.Popen[bytes]] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _end_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        _end(proc, 2.0)


class Command:
    """An objective(ctx, **params) that runs `command` for each trial.

    command: a string (split like a shell would, then each word filled in: a value with spaces stays one
    argument) or a list of words; `shell=True` runs the string through /bin/sh with every value quoted.
    workdir: where the trials' directories go (default ".hyperion/runs"); base_dir: where a relative
    path in the command points to (default: the current directory; `hyperion run` gives the file's).
    """

    def __init__(
        self,
        command: str | Sequence[str],
        *,
        shell: bool = False,
        study: str = "study",
        workdir: str | Path = ".hyperion/runs",
        base_dir: str | Path | None = None,
        grace_period_s: float = 5.0,
        env: Mapping[str, str] | None = None,
        max_output_bytes: int = 10_000_000,
    ) -> None:
        if isinstance(command, str):
            if not command.strip():
                raise ConfigurationError("command is empty; write the program to run, e.g. 'python train.py --lr {lr}'")
            words = [command] if shell else shlex.split(command)
        elif isinstance(command, Sequence) and command and all(isinstance(w, str) for w in command):
            if shell:
                raise ConfigurationError("shell=True takes the command as one string, not a list")
            words = list(command)
        else:
            raise ConfigurationError(f"command must be a string or a list of strings, got {command!r:.100}")
        self.words, self.shell, self.study = words, bool(shell), study
        self.base_dir = Path(base_dir or os.getcwd()).resolve()
        self.workdir = (self.base_dir / workdir).resolve()
        self.grace_period_s, self.env, self.max_output_bytes = grace_period_s, dict(env or {}), max_output_bytes
        self.placeholders = sorted({m.group(1) for w in words for m in PLACEHOLDER.finditer(w)})

    def __repr__(self) -> str:
        return f"Command({' '.join(self.words)!r})"

    @property
    def __name__(self) -> str:  # tune() names a study after its objective
        return "command"

    def check(self, names: Sequence[str]) -> None:
        """Every placeholder names a parameter of the space (dotted for nested ones: `trial_names`)."""
        unknown = [p for p in self.placeholders if p not in names and not any(n.startswith(p + ".") for n in names)]
        if unknown:
            raise ConfigurationError(
                f"the command names {', '.join('{' + u + '}' for u in unknown)}, which the space does not have; "
                f"its parameters: {', '.join(names)}"
            )

    def argv(self, params: Mapping[str, Any]) -> list[str]:
        """The command for these parameters (flat, dotted names)."""
        flat = flatten(dict(params))

        def fill(word: str, quote: bool) -> str:
            def value(match: re.Match[str]) -> str:
                name = match.group(1)
                if name not in flat:
                    raise ConfigurationError(f"the command names {{{name}}}, which this trial does not have")
                text = _text(flat[name])
                return shlex.quote(text) if quote else text

            return (
                PLACEHOLDER.sub(value, word.replace("{{", "\0").replace("}}", "\1"))
                .replace("\0", "{")
                .replace("\1", "}")
            )

        if self.shell:
            return ["/bin/sh", "-c", fill(self.words[0], quote=True)]
        filled = [fill(w, quote=False) for w in self.words]
        # a relative path to something in the base directory still points there from the trial's directory
        return [str(self.base_dir / w) if not os.path.isabs(w) and (self.base_dir / w).exists() else w for w in filled]

    # -- the objective --------------------------------------------------------------------------------
    def __call__(self, ctx: Any, **params: Any) -> ObjectiveResult:
        trial_dir = self.workdir / self.study / ctx.trial_id
        checkpoints = trial_dir / "checkpoints"
        checkpoints.mkdir(parents=True, exist_ok=True)
        argv = self.argv(params)
        env = {
            **os.environ,
            **self.env,
            "HYPERION_STUDY": self.study,
            "HYPERION_TRIAL_NUMBER": str(ctx.number),
            "HYPERION_TRIAL_ID": ctx.trial_id,
            "HYPERION_TRIAL_DIR": str(trial_dir),
            "HYPERION_CHECKPOINT_DIR": str(checkpoints),
            "HYPERION_PARAMS": json.dumps(params, default=str),
            "PYTHONUNBUFFERED": "1",  # a Python program's reports arrive as it prints them
        }
        if ctx.checkpoint_path is not None:  # it continues from a checkpoint: the program reads it there
            env["HYPERION_RESUME_DIR"], env["HYPERION_RESUME_STEP"] = str(ctx.checkpoint_path), str(ctx.checkpoint_step)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=trial_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: a stop ends its children too
            )
        except OSError as exc:
            raise ObjectiveError(f"could not start {argv[0]!r}: {exc.strerror or exc}") from None
        with _LIVE_LOCK:
            _LIVE.add(proc)
        lines: queue.Queue[str | None] = queue.Queue()
        tail: list[str] = []
        out_tail: list[str] = []
        readers = [
            threading.Thread(
                target=self._read, args=(proc.stdout, trial_dir / "stdout.log", lines, out_tail), daemon=True
            ),
            threading.Thread(target=self._read, args=(proc.stderr, trial_dir / "stderr.log", None, tail), daemon=True),
        ]
        for reader in readers:
            reader.start()
        result, last, reported, stopped = None, None, {}, False
        try:
            open_streams = 1
            while open_streams:
                try:
                    line = lines.get(timeout=POLL_S)
                except queue.Empty:
                    line = ""
                if line is None:
                    open_streams -= 1
                elif line:
                    kind, payload = _parse(line)
                    if kind == REPORT:
                        reported = _report(payload)
                        ctx.report(**reported)
                    elif kind == RESULT:
                        result = payload
                    elif kind == CHECKPOINT:
                        _checkpoint(ctx, payload, checkpoints, tail)
                    elif line.strip():
                        last = line.strip()
                if not stopped and ctx.should_stop():
                    stopped = True
                    _end(proc, self.grace_period_s)
            code = proc.wait()
        except BaseException:  # the study is ending (Ctrl-C, an error): the program goes with it
            _end(proc, self.grace_period_s)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
            for reader in readers:
                reader.join(timeout=5)
        metrics = {k: v for k, v in reported.items() if k != "step"}
        # where the trial's files are and how its output ended: the trial page shows them
        files = {"dir": str(trial_dir), "stdout_tail": "\n".join(out_tail), "stderr_tail": "\n".join(tail)}
        if stopped:  # stopped on purpose: the study records the kill and its reason
            return _outcome(metrics, files)
        if code != 0:
            how = (
                f"signal {signal.Signals(-code).name}"
                if code < 0 and -code in signal.valid_signals()
                else f"code {code}"
            )
            stderr = "\n".join(tail[-STDERR_TAIL_LINES:]) or "(nothing on standard error)"
            raise ObjectiveError(f"{' '.join(argv)[:300]} exited with {how}; the end of its standard error:\n{stderr}")
        return _result(result, last, metrics, files)

    def _read(
        self, stream: IO[bytes] | None, log: Path, lines: queue.Queue[str | None] | None, tail: list[str] | None = None
    ) -> None:
        """Copy a stream to its log file (capped) and hand its lines on (stdout) or keep its tail (stderr)."""
        if stream is None:
            return
        written = 0
        with open(log, "ab") as out:
            for raw in iter(stream.readline, b""):
                if written < self.max_output_bytes:
                    out.write(raw[: self.max_output_bytes - written])
                    written += len(raw)
                    if written >= self.max_output_bytes:
                        out.write(b"\n[hyperion: the rest of this output was not kept]\n")
                    out.flush()
                text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                if lines is not None:
                    lines.put(text)
                if tail is not None:
                    tail.append(text[:1000])
                    del tail[:-STDERR_TAIL_LINES]
        stream.close()
        if lines is not None:
            lines.put(None)


def trial_names(space: Space) -> list[str]:
    """The dotted names a trial's parameters have, as placeholders write them (a conditional branch's
    parameter under its Choice's name: opt[adam].beta1 is {opt.beta1})."""
    return list(dict.fromkeys(re.sub(r"\[[^\]]*\]", "", name) for name in space.describe()))


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return json.dumps(value)
    return repr(value) if isinstance(value, float) else str(value)


def _checkpoint(ctx: Any, payload: Any, folder: Path, tail: list[str]) -> None:
    """The program's checkpoint directory, copied into the study's store at the step it names; a save
    that fails is said on the trial's standard error tail (the program goes on)."""
    step = payload.get("step") if isinstance(payload, dict) else None
    if step is not None and (type(step) is not int or step < 0):
        raise ObjectiveError(f'{CHECKPOINT} takes {{"step": N}} with N a whole number, got {payload!r:.100}')
    try:
        with ctx.checkpoint(step) as path:
            shutil.copytree(folder, path, dirs_exist_ok=True)
    except CheckpointError as exc:
        tail.append(f"[hyperion: {exc}]")


def _parse(line: str) -> tuple[str | None, Any]:
    for kind in (REPORT, RESULT, CHECKPOINT):
        if line.startswith(kind + " ") or line.strip() == kind:
            try:
                return kind, json.loads(line[len(kind) :] or "{}")
            except json.JSONDecodeError as exc:
                raise ObjectiveError(
                    f"the program printed {kind} with text that is not JSON ({exc}): {line[:200]!r}"
                ) from None
    return None, None


def _report(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ObjectiveError(f'{REPORT} takes a JSON object such as {{"step": 3, "loss": 0.4}}, got {payload!r:.100}')
    return payload


def _result(result: Any, last: str | None, reported: dict[str, Any], files: dict[str, str]) -> ObjectiveResult:
    if isinstance(result, dict):
        return _outcome(result, files)
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        return ObjectiveResult(score=result, artifacts=files)
    if result is not None:
        raise ObjectiveError(f"{RESULT} takes a JSON object or a number, got {result!r:.100}")
    if last is not None:
        try:
            return ObjectiveResult(score=float(last), artifacts=files)
        except ValueError:
            pass
    if reported:
        return _outcome(reported, files)
    raise ObjectiveError(
        f'the program printed no result: end it with a line `{RESULT} {{"val_loss": 0.3}}` (or a bare number), '
        f'and report as it goes with `{REPORT} {{"step": 1, "val_loss": 0.5}}`'
    )


def _outcome(metrics: dict[str, Any], files: dict[str, str]) -> ObjectiveResult:
    """Printed metrics as a result: a "score" among them is the score."""
    metrics = dict(metrics)
    score = metrics.pop("score", None)
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        raise ObjectiveError(f'the program\'s "score" must be a number, got {score!r:.100}')
    return ObjectiveResult(score=score, metrics=metrics, artifacts=files)


def _end(proc: subprocess.Popen[bytes], grace_period_s: float) -> None:
    """SIGTERM to the program's process group; SIGKILL after the grace period if it is still there."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_period_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
