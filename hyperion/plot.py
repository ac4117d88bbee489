"""The dashboard's figures from Python, as Plotly figures: they show in a notebook, and save with
`fig.write_html("f.html")` or `fig.write_image("f.png")` (PNG needs `pip install kaleido`).

Each function takes a tune() result, or a storage URL and a study name:

    fig = hyperion.plot.history(result)
    fig = hyperion.plot.intermediate("sqlite:///experiments.db", "my-study")

A result holds no per-step reports: `intermediate` needs the storage, and a result whose study was
stored in a SQLite or PostgreSQL storage is read from there (all figures then show what the dashboard
shows). Needs the `dashboard` extra (`pip install 'hyperion-tune[dashboard]'`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hyperion.dashboard import figures, pairs
from hyperion.dashboard.source import ResultSource, Source, open_storage
from hyperion_core.errors import ConfigurationError, HyperionError

__all__ = [
    "contour",
    "history",
    "importance",
    "intermediate",
    "lineage",
    "parallel_coordinates",
    "pareto",
    "rank",
    "slices",
]


@contextmanager
def _source(target: Any, study: str | None) -> Iterator[tuple[Source, str]]:
    if isinstance(target, str):
        if not study:
            raise ConfigurationError("name the study: hyperion.plot.history(storage_url, 'study-name')")
        storage = open_storage(target)
        try:
            yield storage, study
        finally:
            storage.close()
        return
    if not isinstance(target, dict) or "study" not in target:
        raise ConfigurationError(f"expected a tune() result or a storage URL, got {type(target).__name__}")
    url = target["study"].get("storage") or ""
    name = target["study"]["name"]
    if (
        url.startswith(("sqlite:///", "postgresql://", "postgres://"))
        and "***" not in url
        and url != "sqlite:///:memory:"
    ):
        try:  # the stored study has everything (reports included); fall back to the result if it is gone
            storage = open_storage(url)
        except HyperionError:
            storage = None
        if storage is not None:
            try:
                yield storage, name
            finally:
                storage.close()
            return
    yield ResultSource(target), name


def _figure(build: Callable[[Source, str], dict[str, Any] | None], target: Any, study: str | None, what: str) -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise ConfigurationError("hyperion.plot needs plotly: pip install 'hyperion-tune[dashboard]'") from None
    with _source(target, study) as (source, name):
        fig = build(source, name)
    if fig is None:
        raise ConfigurationError(f"study {name!r} has no {what}")
    return go.Figure(fig)


def history(target: Any, study: str | None = None) -> Any:
    """Each trial's value by trial number, coloured by state, and the best so far."""
    return _figure(lambda s, n: figures.history(s.study_view(n), s.history_view(n)), target, study, "history")


def slices(target: Any, study: str | None = None) -> Any:
    """The objective against each parameter, one panel per parameter."""
    return _figure(lambda s, n: figures.slices(s.study_view(n), s.sample_view(n)), target, study, "slices")


def parallel_coordinates(target: Any, study: str | None = None) -> Any:
    """Every completed trial as a line through its parameters and the objective."""
    return _figure(
        lambda s, n: figures.parallel_coordinates(s.study_view(n), s.sample_view(n)), target, study, "parameters"
    )


def importance(target: Any, study: str | None = None) -> Any:
    """Each parameter's share of the objective's variation (eta squared of ranks; docs/dashboard.md)."""
    return _figure(lambda s, n: figures.importance(s.study_view(n), s.sample_view(n)), target, study, "importance")


def intermediate(target: Any, study: str | None = None) -> Any:
    """Reported values per step, killed trials marked where they stopped (needs a stored study)."""

    def build(s: Source, n: str) -> dict[str, Any] | None:
        if isinstance(s, ResultSource):
            raise ConfigurationError(
                "intermediate values are kept in the storage, not in the result: run tune() with "
                "storage='sqlite:///file.db' and pass that URL and the study name"
            )
        header = s.study_view(n)
        return figures.intermediate(header, s.curves_view(n, header["metrics"][0]))

    return _figure(build, target, study, "reports (no trial called ctx.report)")


def lineage(target: Any, study: str | None = None) -> Any:
    """The parent-to-child tree of a beam_search or llm_branching_agent study."""
    return _figure(
        lambda s, n: figures.lineage(s.study_view(n), s.lineage_view(n)),
        target,
        study,
        "lineage (only beam_search and llm_branching_agent build a tree)",
    )


def pareto(target: Any, study: str | None = None) -> Any:
    """Several objectives: the first two against each other, the Pareto front marked."""
    return _figure(lambda s, n: figures.pareto(s.study_view(n), s.sample_view(n)), target, study, "second objective")


def contour(target: Any, study: str | None = None) -> Any:
    """The objective over the two most important numeric parameters (a contour, the trials as points)."""
    return _figure(
        lambda s, n: pairs.contour(s.study_view(n), s.sample_view(n)), target, study, "two numeric parameters"
    )


def rank(target: Any, study: str | None = None) -> Any:
    """The completed trials over the two most important numeric parameters, coloured by rank."""
    return _figure(lambda s, n: pairs.rank(s.study_view(n), s.sample_view(n)), target, study, "two numeric parameters")
