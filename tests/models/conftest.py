"""Fixtures of the model tests."""

import os

import pytest

from models import derived_text_cache


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A private MMCS_CACHE_DIR, so a module's tests see models joined and nothing cached
    before them."""
    path = tmp_path_factory.mktemp("mmcs-cache")
    previous = os.environ.get(derived_text_cache.CACHE_ENV)
    os.environ[derived_text_cache.CACHE_ENV] = str(path)
    yield path
    if previous is None:
        del os.environ[derived_text_cache.CACHE_ENV]
    else:
        os.environ[derived_text_cache.CACHE_ENV] = previous
