"""Every case of ``cases.py`` on ``local[2]``."""

import pytest

from .cases import *  # noqa: F401,F403 (the cases are collected here)


@pytest.fixture(scope="module")
def spark(spark_local):
    return spark_local
