"""`learning360 models --list` prints every model with its grain, touching no warehouse."""

from __future__ import annotations

import pytest

from pipelines.cli import main
from pipelines.models.runner import list_models


def test_models_list_names_every_model_and_its_grain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--list"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert f"\n{name}\n" in f"\n{out}"
    assert out.count("Grain:") == len(list_models())
