"""Claims in the README that code can check: the two commands, and the parameter table."""

import re

from qmtl_utils.models.params import benchmark_table
from qmtl_utils.runtime.paths import repo_root

README = (repo_root() / "README.md").read_text()


def test_readme_opens_with_the_two_commands_ci_runs():
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert block == ["bash scripts/setup.sh && bash run_all.sh", "bash scripts/setup.sh && bash scripts/test.sh"]
    ci = (repo_root() / ".ci" / "run").read_text()
    assert block[1] in ci


def test_readme_parameter_table_matches_the_counts():
    table = benchmark_table().set_index(["title", "variant"]).measured
    rows = re.findall(r"^\| (GLUE|CheXpert|Extended MUStARD) \(.*?\) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| ([\d.]+)× \|$",
                      README, re.M)
    assert len(rows) == 3
    for title, *counts, ratio in rows:
        expected = [table[title, v] for v in ("classical", "hqnn4", "hqnnQ", "qmtl")]
        assert list(map(int, counts)) == expected
        assert float(ratio) == round(expected[0] / expected[3], 1)
