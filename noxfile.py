"""Sessions: tests (everything, one environment), tests_plugin (each plugin alone with the core), lint, docs, bench.

Plugins are discovered from the folders in plugins/, so no list here needs keeping by hand.
"""

from __future__ import annotations

import pathlib

import nox

ROOT = pathlib.Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())
CORE = "./aquarium_core[testing]"

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"


def _editable(plugin: str) -> list[str]:
    return ["-e", f"./plugins/{plugin}[test]"]


@nox.session
def tests(session: nox.Session) -> None:
    """Every distribution installed editable in one environment, one pytest run."""
    session.install("-e", CORE, "pandas", *(arg for plugin in PLUGINS for arg in _editable(plugin)))
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
@nox.parametrize("plugin", PLUGINS or ["(none)"])
def tests_plugin(session: nox.Session, plugin: str) -> None:
    """One plugin installed alone with the core: it must stand on its own."""
    if plugin == "(none)":
        session.skip("no plugins yet")
    siblings = [f"./plugins/{name}" for name in _test_plugins(plugin)]
    session.install(CORE, f"./plugins/{plugin}[test]", *siblings)
    session.run("python", "-m", "pytest", f"plugins/{plugin}/tests", *session.posargs)


def _test_plugins(plugin: str) -> list[str]:
    """Sibling plugins a plugin's tests use (``[tool.aquarium] test-plugins``): not on the index,
    so they come from their folders."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: nox brings tomli
        import tomli as tomllib

    data = tomllib.loads((ROOT / "plugins" / plugin / "pyproject.toml").read_text())
    return data.get("tool", {}).get("aquarium", {}).get("test-plugins", [])


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def docs(session: nox.Session) -> None:
    """The docs site (mkdocs.yml) in strict mode: a broken link or a docstring mkdocstrings cannot
    render fails. The API reference is read from the sources by griffe, so the plugins are
    installed without their own dependencies (quick); the core brings its few."""
    session.install("mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26", "-e", "./aquarium_core")
    session.install("--no-deps", *(arg for plugin in PLUGINS for arg in ("-e", f"./plugins/{plugin}")))
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # Material's notice about its successor, on every build
    session.run("mkdocs", "build", "--strict", "--site-dir", str(ROOT / "site"), *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Side-by-side benchmarks against MLflow, W&B offline and tensorboardX."""
    session.install("-e", CORE, "mlflow", "wandb", "tensorboardX", "tensorboard",
                    *(arg for plugin in PLUGINS for arg in _editable(plugin)))
    session.run("python", "benchmarks", *session.posargs)
