"""A codebase the next engineer can hold in their head: no module of the product or its
benchmarks over 400 lines (split one by responsibility, docs/architecture.md's layout)."""

from ingest.settings import REPO_ROOT

MAX_LINES = 400


def test_no_module_is_over_400_lines():
    folders = ("ingest", "ml", "orchestration", "benchmarks")
    sizes = {
        str(path.relative_to(REPO_ROOT)): len(path.read_text().splitlines())
        for folder in folders
        for path in (REPO_ROOT / folder).rglob("*.py")
    }
    assert len(sizes) > 50
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
