"""The API guide's quick start with a real objective: softmax regression on scikit-learn's bundled
digits data, trained with the chosen optimizer, scored by validation accuracy.

    pip install -e '.[examples]' && python examples/quickstart.py
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from hyperion import Choice, Float, ObjectiveResult, tune

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
Y_train = np.eye(10)[y_train]


def train_model(ctx, lr: float, opt: str, epochs: int = 15, batch: int = 64) -> float:
    rng = np.random.default_rng(0)
    w = np.zeros((X.shape[1], 10))
    m = np.zeros_like(w)  # first moment (adam) / momentum-free running state
    v = np.zeros_like(w)  # second moment (adam, rmsprop)
    t = 0
    accuracy = 0.0
    for epoch in range(epochs):
        order = rng.permutation(len(X_train))
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            logits = X_train[idx] @ w
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            grad = X_train[idx].T @ (p - Y_train[idx]) / len(idx)
            t += 1
            if opt == "sgd":
                w -= lr * grad
            elif opt == "rmsprop":
                v = 0.9 * v + 0.1 * grad**2
                w -= lr * grad / (np.sqrt(v) + 1e-8)
            else:  # adam
                m = 0.9 * m + 0.1 * grad
                v = 0.999 * v + 0.001 * grad**2
                w -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        accuracy = float(((X_val @ w).argmax(axis=1) == y_val).mean())
        ctx.report(step=epoch, val_accuracy=accuracy)
        if ctx.should_stop():
            break
    return accuracy


def objective(ctx, learning_rate: float, optimizer: str) -> ObjectiveResult:
    """Your training function."""
    score = train_model(ctx, lr=learning_rate, opt=optimizer)
    return ObjectiveResult(score=score)


if __name__ == "__main__":
    result = tune(
        objective=objective,
        space={
            "learning_rate": Float(0.0001, 0.1, log=True),
            "optimizer": Choice(["adam", "sgd", "rmsprop"]),
        },
        strategy="random",
        max_trials=50,
        max_concurrent=4,
        seed=0,
        show_progress=True,
        show_summary=True,
    )
    print(f"Best configuration: {result['best']}")
