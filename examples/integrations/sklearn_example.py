"""scikit-learn cross-validation that reports per fold, so early stopping can skip the remaining folds.

pip install -e '.[examples]' && python examples/integrations/sklearn_example.py
"""

from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier

from hyperion import Int, tune
from hyperion.integrations.sklearn import cross_val_score

X, y = load_wine(return_X_y=True)


def objective(ctx, n_estimators, max_depth, min_samples_leaf):
    model = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=0
    )
    return cross_val_score(ctx, model, X, y, cv=5, scoring="accuracy")


tune(
    objective,
    {"n_estimators": Int(10, 200, log=True), "max_depth": Int(1, 12), "min_samples_leaf": Int(1, 20)},
    strategy="bayesian",
    early_stopping="median",
    early_stopping_kwargs={"warmup_steps": 1},
    max_trials=30,
    seed=0,
    show_summary=True,
)
