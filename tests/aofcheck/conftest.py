from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """AOFs written by a real Redis 7.0 (see tests/aofcheck/aofgen.py)."""
    from tests.aofcheck.aofgen import make_corpus

    return make_corpus(tmp_path_factory.mktemp("aofcorpus"))
