"""scikit-learn: cross-validation that reports after each fold, so early stopping can end a trial
before all folds ran: `return cross_val_score(ctx, estimator, X, y, cv=5)`."""

from __future__ import annotations

import statistics
from typing import Any

from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv


def cross_val_score(ctx: Any, estimator: Any, X: Any, y: Any = None, cv: Any = 5, scoring: Any = None) -> float:
    """The mean score over the folds run. After fold k it reports `ctx.report(step=k, score=<mean so far>,
    fold_score=<this fold>)`; once the trial is asked to stop it runs no more folds (and the trial ends
    as killed at that step); a stop asked at the last fold stops nothing, so the trial keeps its
    result. `cv` and `scoring` as in scikit-learn."""
    from sklearn.base import is_classifier

    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    scorer = check_scoring(estimator, scoring=scoring)
    scores: list[float] = []
    last = splitter.get_n_splits(X, y) - 1
    for fold, (train, test) in enumerate(splitter.split(X, y)):
        model = clone(estimator).fit(_rows(X, train), None if y is None else _rows(y, train))
        scores.append(float(scorer(model, _rows(X, test), None if y is None else _rows(y, test))))
        ctx.report(step=fold, score=statistics.fmean(scores), fold_score=scores[-1])
        if fold < last and ctx.should_stop():  # after the last fold there is nothing left to save
            break
    return statistics.fmean(scores)


def _rows(data: Any, index: Any) -> Any:
    return data.iloc[index] if hasattr(data, "iloc") else data[index]
