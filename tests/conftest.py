"""Shared fixtures: every test process renders dSprites at most once, into a temporary
cache that never touches the user's home folder."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def dsprites_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dsprites-cache")
    previous = os.environ.get("DISENTANGLE_CACHE")
    os.environ["DISENTANGLE_CACHE"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("DISENTANGLE_CACHE", None)
    else:
        os.environ["DISENTANGLE_CACHE"] = previous
