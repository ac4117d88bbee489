"""A small PyTorch network on scikit-learn's bundled digits, tuned with one GPU per trial.

Each trial runs in its own worker process with its own GPU (CUDA_VISIBLE_DEVICES is set per worker
from the visible devices), so trials never share a device; as many run at once as there are GPUs
(max_concurrent is lowered to that, with a note). Without a GPU the same script runs on the CPU.
Reports every epoch, so the median policy stops poor trials early.

    pip install -e '.[examples]' torch && python examples/pytorch_gpu.py [--trials 20]
"""

from __future__ import annotations

import argparse
import time

from hyperion import Choice, Float, Int, ObjectiveResult, tune


def train(ctx, lr: float, hidden: int, optimizer: str, dropout: float, epochs: int = 30) -> ObjectiveResult:
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # this worker's own GPU, if any
    if device.type == "cpu":
        torch.set_num_threads(1)  # trials run side by side: one core each, not every core each
    torch.manual_seed(ctx.number)
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    as_tensor = lambda a, dtype: torch.tensor(a, dtype=dtype, device=device)  # noqa: E731
    x_train, x_val = as_tensor(x_train, torch.float32), as_tensor(x_val, torch.float32)
    y_train, y_val = as_tensor(y_train, torch.long), as_tensor(y_val, torch.long)
    model = torch.nn.Sequential(
        torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout), torch.nn.Linear(hidden, 10)
    ).to(device)
    make = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}[optimizer]
    opt = make(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    began, accuracy = time.perf_counter(), 0.0
    for epoch in range(epochs):
        model.train()
        for batch in torch.randperm(len(x_train), device=device).split(64):
            opt.zero_grad()
            loss_fn(model(x_train[batch]), y_train[batch]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x_val).argmax(1) == y_val).float().mean().item()
        ctx.report(step=epoch, val_accuracy=accuracy)
        if ctx.should_stop():
            break
    return ObjectiveResult(
        score=accuracy,
        metrics={"device": str(device), "seconds": time.perf_counter() - began},
    )


def main() -> None:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    gpus = torch.cuda.device_count()
    result = tune(
        train,
        {
            "lr": Float(1e-4, 1e-1, log=True),
            "hidden": Int(16, 256, log=True),
            "optimizer": Choice(["adam", "sgd", "rmsprop"]),
            "dropout": Float(0.0, 0.5),
        },
        strategy="bayesian",
        metric="score",
        early_stopping="median",
        early_stopping_kwargs={"metric": "val_accuracy", "mode": "max", "warmup_steps": 5},
        executor="process",
        resources_per_trial={"gpu": 1} if gpus else None,
        max_trials=args.trials,
        max_concurrent=max(1, gpus) if gpus else 2,
        seed=0,
        show_summary=True,
    )
    best = result["best"]
    print(f"best validation accuracy {best['score']:.4f} on {best['metrics']['device']} with {best['params']}")


if __name__ == "__main__":
    main()
