"""The docs say what the code does: every ``aquarium.*`` name they mention exists, and every
query of the query reference's example table parses and finds a run.

(``nox -s docs`` builds the site in strict mode: broken links, anchors and snippet paths fail
there; ``aquarium_core/tests/test_docs.py`` checks the hook reference against hookspecs.py.)
"""

from __future__ import annotations

import importlib
import math
import re
import time
from pathlib import Path
from typing import Any

import pytest

import aquarium
from aquarium.ids import new_run_id

DOCS = Path(__file__).resolve().parents[1] / "docs"

# Dotted names in the docs that are tag names, not Python objects.
TAG_NAMES = {"aquarium.adjusted", "aquarium.error", "aquarium.export.digest", "aquarium.group", "aquarium.models",
             "aquarium.parent", "aquarium.run_id", "aquarium.status"}
_NAME = re.compile(r"(?<![\w./-])aquarium(?:\.[A-Za-z_]\w*)+")


def _resolve(name: str) -> Any:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            continue
    for attribute in parts[cut:]:
        obj = getattr(obj, attribute)
    return obj


def _mentioned_names() -> list[tuple[str, str]]:
    found = set()
    for page in sorted(DOCS.rglob("*.md")):
        for match in _NAME.finditer(page.read_text(encoding="utf-8")):
            name = match.group(0)
            if name not in TAG_NAMES and not name.startswith("aquarium.exported"):
                found.add((name, str(page.relative_to(DOCS))))
    return sorted(found)


def test_every_aquarium_name_in_the_docs_exists():
    missing = []
    for name, page in _mentioned_names():
        try:
            _resolve(name)
        except (AttributeError, ImportError):
            missing.append(f"{page}: {name}")
    assert len(_mentioned_names()) > 50
    assert not missing, "the docs mention names the code does not have:\n" + "\n".join(missing)


def _query_examples() -> list[str]:
    text = (DOCS / "query.md").read_text(encoding="utf-8")
    section = text.split("## Examples, field by field", 1)[1].split("\n## ", 1)[0]
    return [m.group(2) for m in re.finditer(r"^\| (``?)(.+?)\1 \|", section, re.MULTILINE) if m.group(2) != "query"]


@pytest.fixture(scope="module")
def example_store(tmp_path_factory):
    store = aquarium.open_store(tmp_path_factory.mktemp("docs") / "store")
    params = {"lr": 0.001, "batch_size": 64, "batch size": 32, "optimizer": {"name": "adam"}}
    with aquarium.start_run(name="resnet-18", experiment="cifar10", group="lr-sweep", params=params,
                            tags={"team": "vision"}, notes="baseline of the LR sweep", store=store,
                            capture_source=False) as first:
        for step, (loss, acc) in enumerate([(0.9, 0.7), (0.5, 0.92), (0.15, None)]):
            run_metrics = {"loss": loss} if acc is None else {"loss": loss, "val/acc": acc}
            first.log(run_metrics, step=step)
    second = aquarium.start_run(name="bert-base", experiment="glue", params={"lr": 0.01, "batch_size": 16},
                                parent=first.id, store=store, capture_source=False)
    second.log({"loss": math.nan})
    second.finish(status="failed", error="ValueError: diverged")
    now = time.time()
    store.create_run(aquarium.RunRecord(id=new_run_id(), name="lost", experiment="cifar10", status="running",
                                        created=now - 100, started=now - 100, heartbeat=now - 3600))
    return store


@pytest.mark.parametrize("query", _query_examples())
def test_query_example_finds_a_run(query, example_store):
    assert example_store.search(query), f"docs/query.md: the example {query!r} finds nothing"


def test_query_examples_cover_every_field_and_operator():
    examples = " ".join(_query_examples())
    fields = ["params.", "metrics.", "tags.", "status", "name", "experiment", "group", "id", "parent", "notes",
              "created", "started", "ended", "duration", ".last", ".first", ".min", ".max", ".count", ".best",
              ".best_step"]
    operators = [" = ", " == ", " != ", " < ", " <= ", " > ", " >= ", " in (", " not in (", " ~ ", " is null",
                 " is not null", " and ", " or ", "not ", "("]
    missing = [f for f in fields + operators if f not in examples]
    assert not missing, f"docs/query.md's examples never use {missing}"
