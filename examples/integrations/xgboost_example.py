"""XGBoost on scikit-learn's bundled breast-cancer data, stopping poor runs by validation log-loss.

pip install -e '.[examples,integrations]' && python examples/integrations/xgboost_example.py
"""

import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from hyperion import Float, Int, tune
from hyperion.integrations.xgboost import HyperionCallback

X, y = load_breast_cancer(return_X_y=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def objective(ctx, eta, max_depth, subsample):
    params = {
        "eta": eta,
        "max_depth": max_depth,
        "subsample": subsample,
        "objective": "binary:logistic",
        "eval_metric": "logloss",
    }
    xgb.train(
        params,
        xgb.DMatrix(X_train, y_train),
        num_boost_round=200,
        evals=[(xgb.DMatrix(X_valid, y_valid), "valid")],
        callbacks=[HyperionCallback(ctx)],
        verbose_eval=False,
    )
    return 0.0  # the optimised value is the last reported valid-logloss


tune(
    objective,
    {"eta": Float(0.01, 0.5, log=True), "max_depth": Int(2, 8), "subsample": Float(0.5, 1.0)},
    strategy="bayesian",
    metric="valid-logloss",
    mode="min",
    early_stopping="median",
    early_stopping_kwargs={"warmup_steps": 20},
    max_trials=30,
    seed=0,
    show_summary=True,
)
