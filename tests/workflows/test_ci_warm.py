"""The CI workflow warms the mirrors before the jobs that pull fan out."""

from pathlib import Path

import yaml

CI = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "ci.yml"


def test_ci_warms_before_fanning_out() -> None:
    jobs = yaml.safe_load(CI.read_text())["jobs"]

    warm = jobs["warm"]
    assert warm["continue-on-error"] is True
    assert warm["steps"][-1]["run"] == "dagger call warm --source-dir ."
    assert jobs["lint"]["needs"] == "warm"
    assert jobs["test"]["needs"] == "warm"
