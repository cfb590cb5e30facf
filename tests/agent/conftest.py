import pytest


@pytest.fixture
def spool(tmp_path):
    return tmp_path / "spool"
