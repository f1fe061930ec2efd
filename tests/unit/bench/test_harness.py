"""`python -m bench` as `make bench` runs it, on its cheapest groups: a functional test
of the harness (every figure accounted for in the JSON), never a timing assertion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.figures import catalogue
from bench.suite import GROUPS

ROOT = Path(__file__).parents[3]


def test_quick_run_writes_every_figure_with_a_number_or_a_reason(tmp_path: Path) -> None:
    """A quick run of two groups writes every figure of the catalogue: a number for what
    it measured, an explicit reason for everything else."""
    out = tmp_path / "results.json"
    subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "sink,scorecards", "--out", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=240,
    )
    document = json.loads(out.read_text())
    options = document["options"]
    expected = catalogue(options["sizes"], options["setups"])
    assert set(document["figures"]) == set(expected)
    for key, figure in document["figures"].items():
        if figure["value"] is None:
            assert isinstance(figure["missing"], str) and figure["missing"], key
        else:
            assert isinstance(figure["value"], int | float), key
            assert figure["missing"] is None, key
    assert document["figures"]["2.e2e.embedded_1w.10^3"]["missing"].startswith("not run")
    assert options["only"] == ["scorecards", "sink"]
    assert set(options["only"]) < set(GROUPS)


def test_an_unknown_group_is_refused() -> None:
    """--only with a group that does not exist stops at once with its name."""
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "e2e,nonsense"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "nonsense" in result.stderr
