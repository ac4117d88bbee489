from __future__ import annotations

import pytest

from tests.dashboard import studies


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """One SQLite file with the three known studies; returns its URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'studies.db'}"
    studies.demo(url)
    studies.tree(url)
    studies.two_objectives(url)
    return url


@pytest.fixture(scope="module")
def storage(stored):
    from hyperion.dashboard.source import open_storage

    s = open_storage(stored)
    yield s
    s.close()
