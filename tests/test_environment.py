"""environment.yml (conda) and pyproject.toml must list the same dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    return {_name(r): r.replace(" ", "") for r in requirements}


def _environment() -> dict[str, str]:
    data = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    entries = {}
    for item in data["dependencies"]:
        if isinstance(item, str) and _name(item) not in ("python", "pip"):
            entries[_name(item)] = item.replace(" ", "")
        elif isinstance(item, dict):
            for pip_item in item.get("pip", []):
                if not pip_item.startswith("-e"):
                    entries[_name(pip_item)] = pip_item.replace(" ", "")
    return entries


def test_same_packages_in_both_files():
    pyproject, environment = _pyproject(), _environment()
    assert sorted(set(pyproject) - set(environment)) == [], "in pyproject.toml but not environment.yml"
    assert sorted(set(environment) - set(pyproject)) == [], "in environment.yml but not pyproject.toml"


def test_same_version_bounds():
    pyproject, environment = _pyproject(), _environment()
    different = {
        name: (pyproject[name], environment[name])
        for name in pyproject
        if name in environment and pyproject[name] != environment[name]
    }
    assert different == {}
