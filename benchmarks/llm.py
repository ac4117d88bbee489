"""llm_agent against random search on synth_ml (30 trials): best values, calls, tokens, time per call.

python benchmarks/llm.py                                   # a scripted stand-in LLM (says so)
python benchmarks/llm.py --model ollama/llama3.2:3b        # any litellm model name
python benchmarks/llm.py --model openai/smollm2 --api-base http://127.0.0.1:8000/v1 --json-mode schema
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from functions import PROBLEMS  # noqa: E402

from hyperion import tune  # noqa: E402
from hyperion_storage.memory import MemoryStorage  # noqa: E402


class ScriptedLLM:
    """A stand-in that reads the prompt's best trial and suggests small changes to it (no model)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def __call__(self, prompt: str) -> str:
        count = int(prompt.split("Suggest ")[1].split(" ")[0])
        best = None
        for line in prompt.splitlines():
            if line.strip().startswith("trial_") and "{" in line and "->" in line and "failed" not in line:
                best = json.loads(line[line.index("{") : line.rindex("}") + 1])
                break
        out = []
        for _ in range(count):
            if best is None:
                p = {
                    "optimizer": self.rng.choice(["sgd", "adam", "rmsprop"]),
                    "lr": 10 ** self.rng.uniform(-5, 0),
                    "layers": self.rng.randint(1, 8),
                    "dropout": self.rng.uniform(0, 0.5),
                }
            else:
                p = dict(best)
                p["lr"] = min(1.0, max(1e-5, p["lr"] * 10 ** self.rng.gauss(0, 0.3)))
                p["layers"] = min(8, max(1, p["layers"] + self.rng.choice([-1, 0, 1])))
                p["dropout"] = min(0.5, max(0.0, p["dropout"] + self.rng.gauss(0, 0.05)))
            out.append({"params": p, "rationale": "a small step from the best trial"})
        return json.dumps({"suggestions": out})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a litellm model name; without it a scripted stand-in is used")
    parser.add_argument("--api-base")
    parser.add_argument("--json-mode", default="json_object", choices=["json_object", "schema", "json_schema", "none"])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("hyperion_core").setLevel(logging.ERROR)
    space, fn, _ = PROBLEMS["synth_ml"]
    if args.model:
        from hyperion_llm.adapters import LiteLLM

        def make_llm(seed):
            return LiteLLM(
                args.model,
                api_base=args.api_base,
                api_key="local" if args.api_base else None,
                json_mode=None if args.json_mode == "none" else args.json_mode,
                timeout=120,
            )

        label = args.model
    else:
        make_llm, label = ScriptedLLM, "a scripted stand-in (no model configured: pass --model)"
    print(f"synth_ml, {args.trials} trials, {args.seeds} seeds; LLM: {label}\n")
    print("| strategy | best (median) | best per seed | LLM calls | tokens in/out | s per call | fallbacks | wall s |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for strategy in ("random", "llm_agent"):
        bests, calls, tokens_in, tokens_out, latency, fallbacks, walls = [], 0, 0, 0, [], 0, []
        for seed in range(args.seeds):
            storage = MemoryStorage()
            kwargs = {"llm": make_llm(seed), "exploration_rate": 0.2, "timeout": 120} if strategy == "llm_agent" else {}
            start = time.perf_counter()
            result = tune(
                lambda ctx, **p: fn(**p),
                space,
                strategy=strategy,
                strategy_kwargs=kwargs,
                storage=storage,
                max_trials=args.trials,
                mode="min",
                seed=seed,
                study_name="bench",
            )
            walls.append(time.perf_counter() - start)
            bests.append(result["best"]["value"])
            for event in storage.load_events("bench"):
                if event["kind"] == "llm_call":
                    calls += 1
                    tokens_in += event["tokens_in"] or 0
                    tokens_out += event["tokens_out"] or 0
                    latency.append(event["latency_s"])
            fallbacks += sum(1 for t in result["trials"] if t["rationale"] and "LLM fallback" in t["rationale"])
        per_call = f"{statistics.mean(latency):.2f}" if latency else "-"
        print(
            f"| {strategy} | {statistics.median(bests):.4g} | {', '.join(f'{b:.3g}' for b in bests)} | {calls} | "
            f"{tokens_in}/{tokens_out} | {per_call} | {fallbacks} | {statistics.mean(walls):.1f} |"
        )


if __name__ == "__main__":
    main()
