"""Choosing a strategy's defaults on the whole BBOB suite, never on one function: each configuration
against the three anchors (Optuna TPE and CMA-ES, Nevergrad NGOpt), over several dimensions and
budgets. Prints, per configuration and setting, its mean rank among the four, on how many problems
it is within 0.05 (log10) of Optuna TPE or better, and its worst gap to Optuna TPE.

    python benchmarks/sweep.py --configs "bayesian,bayesian+bandwidth=0.5" [--dims 2,5,10] [--budgets 50,100,200]

Configurations are bbob.py method names: a strategy and its arguments joined by "+"
("bayesian+gamma=0.2+spread=1.0"; "concurrent=4" runs it at max_concurrent=4).
"""

from __future__ import annotations

import argparse
import time

from bbob import ANCHORS, mean_ranks, run_suite


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", required=True)
    parser.add_argument("--dims", default="2,5,10")
    parser.add_argument("--budgets", default="50,100,200")
    parser.add_argument("--instances", default="1-5")
    parser.add_argument("--functions", default="1-24")
    parser.add_argument("--cache", default="bbob-anchors.json")
    args = parser.parse_args()
    configs = args.configs.split(",")
    print("| configuration | setting | mean rank of 4 | within 0.05 of TPE | worst gap to TPE | seconds |")
    print("|---|---|---:|---:|---:|---:|")
    for budget in (int(b) for b in args.budgets.split(",")):
        for dims in args.dims.split(","):
            medians, seconds = run_suite(list(ANCHORS), dims, budget, args.instances, args.functions, args.cache)
            for config in configs:
                began = time.perf_counter()
                ours, spent = run_suite([config], dims, budget, args.instances, args.functions)
                medians[config] = ours[config]
                ranks = mean_ranks(medians, [config, *ANCHORS])
                gaps = [ours[config][f] - medians["optuna-tpe"][f] for f in ours[config]]
                near = sum(g <= 0.05 for g in gaps)
                print(
                    f"| {config} | d={dims} budget {budget} | {ranks[config]:.2f} | {near}/{len(gaps)} | "
                    f"{max(gaps):+.2f} | {time.perf_counter() - began:.0f} |",
                    flush=True,
                )
                del medians[config]


if __name__ == "__main__":
    main()
