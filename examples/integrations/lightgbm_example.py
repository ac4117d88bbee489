"""LightGBM on scikit-learn's bundled diabetes data: early stopping ends poor boosting runs mid-way.

pip install -e '.[examples,integrations]' && python examples/integrations/lightgbm_example.py
"""

import lightgbm as lgb
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from hyperion import Float, Int, tune
from hyperion.integrations.lightgbm import HyperionCallback

X, y = load_diabetes(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0)


def objective(ctx, learning_rate, num_leaves, min_child_samples):
    params = {
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_child_samples": min_child_samples,
        "objective": "regression",
        "verbose": -1,
    }
    booster = lgb.train(
        params,
        lgb.Dataset(X_train, y_train),
        num_boost_round=200,
        valid_sets=[lgb.Dataset(X_valid, y_valid)],
        callbacks=[HyperionCallback(ctx)],
    )
    return booster.best_score["valid_0"]["l2"] if booster.best_score else float("nan")


result = tune(
    objective,
    {"learning_rate": Float(0.005, 0.3, log=True), "num_leaves": Int(4, 64, log=True), "min_child_samples": Int(5, 50)},
    strategy="bayesian",
    metric="valid_0-l2",
    mode="min",
    early_stopping="median",
    early_stopping_kwargs={"warmup_steps": 20},
    max_trials=30,
    seed=0,
    show_summary=True,
)
