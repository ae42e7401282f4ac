"""Every mistake of tests/engine/config_mistakes.py is refused before anything is graded, in
one line that names the key (or file) and the fix, with exit code 2 and no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from graders.cli import main
from tests.engine.config_mistakes import MISTAKES, apply


def test_there_are_at_least_twenty():
    assert len(MISTAKES) >= 20


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.what for m in MISTAKES])
def test_a_config_mistake_is_refused_with_the_key_and_the_fix(mistake, tmp_path):
    result = CliRunner().invoke(main, ["--config", str(apply(mistake, tmp_path)), "list"])
    assert result.exit_code == 2, result.output
    assert mistake.says in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1


def test_the_shipped_config_is_accepted():
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("topic", sorted(__import__("graders.assignments.parameters",
                                                    fromlist=["TOPICS"]).TOPICS))
def test_every_parameter_a_reference_topic_reads_is_typed(topic):
    """graders/assignments/parameters.py declares exactly the parameters of build_key, and
    the reference's own defaults pass their declared checks."""
    import importlib

    from graders.assignments.parameters import TOPICS
    from reference.true_false import IDS
    module = importlib.import_module(f"reference.{topic}")
    defaults = getattr(module, "DEFAULTS", None) or getattr(module, "DEFAULT_PARAMS", None) or {}
    names = set(IDS) if topic == "true_false" else set(defaults)
    assert set(TOPICS[topic]) == names
    for name, value in defaults.items():
        plain = [list(v) if isinstance(v, tuple) else v for v in value] \
            if isinstance(value, (list, tuple)) else value
        if name != "bits":  # holds None (float), which TOML cannot write
            assert TOPICS[topic][name].problem(plain) is None, (name, value)
