"""Claims in the README that code can check: the two commands, the parameter table, where the HTML
pages go; and the README stays a short front page whose links, like those of docs/, all resolve."""

import re

from qmtl_utils.models.params import benchmark_table
from qmtl_utils.runtime.paths import repo_root
from qmtl_utils.runtime.render import html_dir

ROOT = repo_root()
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))
# the README is what a newcomer reads in five minutes; the rest lives in docs/
README_MAX_LINES = 175


def test_readme_opens_with_the_two_commands_ci_runs():
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert block == ["bash scripts/setup.sh && bash run_all.sh", "bash scripts/setup.sh && bash scripts/test.sh"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert block[1] in ci


def test_readme_parameter_table_matches_the_counts():
    table = benchmark_table().set_index(["title", "variant"]).measured
    rows = re.findall(
        r"^\| (GLUE|CheXpert|Extended MUStARD) \(.*?\) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| ([\d.]+)× \|$", README, re.M
    )
    assert len(rows) == 3
    for title, *counts, ratio in rows:
        expected = [table[title, v] for v in ("classical", "hqnn4", "hqnnQ", "qmtl")]
        assert list(map(int, counts)) == expected
        assert float(ratio) == round(expected[0] / expected[3], 1)


def test_readme_names_where_the_html_pages_go():
    assert html_dir("demo").relative_to(ROOT / "runs").as_posix() == "demo/html"  # unless QMTL_RUNS_DIR moves it
    assert "runs/demo/html/index.html" in README and "runs/<profile>/html/index.html" in README


def test_readme_is_short_and_links_every_doc():
    lines = README.count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/ and link it"
    linked = set(re.findall(r"\]\((docs/[^)#]+)", README))
    assert linked == {f"docs/{p.name}" for p in DOCS}, "every docs/*.md is linked from the README, and exists"


def anchors(path) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.*)$", text, re.M)}


def test_anchors_follow_githubs_rule():
    assert anchors(ROOT / "docs" / "heads.md") >= {"noise-simulation-speed-63", "parameter-counts-42-fig-4"}


def test_every_relative_link_resolves():
    for path in [ROOT / "README.md", *DOCS]:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            linked = path.parent / file if file else path
            where = f"{path.relative_to(ROOT)} links {target}"
            assert linked.exists(), f"{where}, which does not exist"
            if anchor:
                assert anchor in anchors(linked), f"{where}: no such heading in {linked.name}"
