"""The layers of docs/ARCHITECTURE.md hold: import-linter checks the contracts in pyproject.toml."""

from pathlib import Path

import pytest

lint_imports = pytest.importorskip("importlinter.cli", reason="pip install import-linter (the dev extra)").lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_the_contracts_in_pyproject_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)  # facegen is found from the repository, as the tests import it
    monkeypatch.syspath_prepend(str(ROOT))
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0, "see the report above"


def test_a_broken_contract_fails(monkeypatch, tmp_path):
    """The checker reads the real imports: forbidding one that exists (faces -> utils) is reported as broken."""
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    config = tmp_path / "broken.ini"
    config.write_text(
        "[importlinter]\nroot_package = facegen\n\n"
        "[importlinter:contract:faces-without-utils]\nname = faces imports nothing at all\ntype = forbidden\n"
        "source_modules = facegen.faces\nforbidden_modules = facegen.utils\n"
    )
    assert lint_imports(config_filename=str(config), no_cache=True) == 1
