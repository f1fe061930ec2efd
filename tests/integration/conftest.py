"""Fixtures of the fault tests (marker ``faults``, run by ``make faults``): the generated
input they share, the dump of its clean run, and the figures each test reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consumers.publisher import Outgoing
from consumers.store import open_store
from tests.integration.canonical import Dump, canonical_dump
from tests.integration.live import LivePipeline, zhuzhou_input
from tests.support.kafka import ApacheKafka

# The generated Zhuzhou profile, 2021-2022: 500 incidents make 3 070 records.
SEED = 5
INCIDENTS = 500

_FIGURES = pytest.StashKey[list[tuple[str, dict[str, Any]]]]()


@pytest.fixture(scope="session")
def zhuzhou() -> list[Outgoing]:
    """The records of the shared input, as a batch run would publish them."""
    return zhuzhou_input(SEED, INCIDENTS)


@pytest.fixture(scope="session")
def clean_dump(zhuzhou: list[Outgoing], tmp_path_factory: pytest.TempPathFactory) -> Dump:
    """The canonical dump of the shared input run through one worker and the sink on a
    cluster of its own, with no fault."""
    folder = tmp_path_factory.mktemp("clean")
    db = f"sqlite:///{folder / 'clean.db'}"
    engine = open_store(db)
    with ApacheKafka() as kafka:
        pipeline = LivePipeline(kafka.bootstrap, db, folder)
        try:
            pipeline.start_worker()
            pipeline.start_sink()
            pipeline.publish(zhuzhou)
            pipeline.wait()
            pipeline.drain()
        finally:
            pipeline.stop()
    dump = canonical_dump(engine)
    engine.dispose()
    return dump


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A test's figures (events, kills, handovers, rebalance times, redeliveries,
    restarts, final difference), printed at the end of the session."""
    figures: dict[str, Any] = {}
    yield figures
    request.config.stash.setdefault(_FIGURES, []).append((request.node.nodeid, figures))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    reported = config.stash.get(_FIGURES, [])
    if not reported:
        return
    terminalreporter.section("fault figures")
    for nodeid, figures in reported:
        terminalreporter.write_line(f"{nodeid}: {json.dumps(figures, ensure_ascii=False)}")
    out = Path(config.rootpath) / ".cache" / "faults-figures.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a", encoding="utf-8") as lines:
        for nodeid, figures in reported:
            lines.write(json.dumps({"test": nodeid, **figures}, ensure_ascii=False) + "\n")
