"""The monitoring page on a generated year run through the real pipeline (embedded
broker, SQLite), driven in headless Chromium; the same run's worker metrics, scraped
while the run is in progress; and the month's files for the circular."""

from __future__ import annotations

import base64
import csv
import io
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer
from playwright.sync_api import Browser, Page, sync_playwright
from prometheus_client.parser import text_string_to_metric_families

from consumers.cluster import ensure_topics
from consumers.health import sink_checks
from referrals.generate import generate_zhuzhou_2022
from runtime.batch import Reporter, Summary, run_batch
from runtime.embedded import EmbeddedBroker, free_loopback_port
from schemas.codec import CodecError, default_store
from streams import topics
from streams.monitoring.probes import start_probes
from streams.organisation import default_organisation_path, load_organisation
from streams.settings import Settings
from tests.integration.serving import ROOT, referrals_json, served

pytestmark = pytest.mark.integration

MONTH = "2022-12"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Scraper(Reporter):
    """Scrapes the worker's /metrics once everything is processed: the stage after the
    drain, while the worker still runs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.scraped: str | None = None

    def stage(self, name: str, total: int | None = None) -> None:
        if name == "closing months" and self.scraped is None:
            url = f"http://127.0.0.1:{self.port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as answer:
                self.scraped = answer.read().decode()


@dataclass(frozen=True)
class Year:
    db: str
    summary: Summary
    metrics: str


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Year:
    folder = tmp_path_factory.mktemp("year")
    lines = generate_zhuzhou_2022(0, load_organisation(default_organisation_path()))
    source = folder / "zhuzhou-2022.jsonl"
    source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    db = f"sqlite:///{folder / 'year.db'}"
    port = free_loopback_port()
    settings = replace(Settings(db=db, partitions=2), worker_port=port)
    scraper = Scraper(port)
    summary = run_batch(settings, [source], scraper)
    assert scraper.scraped is not None
    return Year(db, summary, scraper.scraped)


@pytest.fixture(scope="module")
def page_url(year: Year, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(year.db, tmp_path_factory.mktemp("serve") / "serve.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1280, "height": 900})
    yield opened
    opened.close()


def cli(year: Year, *args: str) -> Any:
    return referrals_json(*args, "--db", year.db)


def _file_source(letter: dict[str, Any]) -> str:
    return f"{letter['source_file']}:{letter['source_line']}"


def _topic_source(letter: dict[str, Any]) -> str:
    return f"{letter['source_topic']}/{letter['source_partition']}/{letter['source_offset']}"


def _readable(raw: bytes) -> Any:
    """What a person should read of raw bytes: the Avro record's text fields, the JSON
    value, or the text."""
    try:
        record = default_store().decode(raw).record
        return {k: v for k, v in record.items() if isinstance(v, str)}
    except CodecError:
        pass
    text = raw.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


def _readable_shown(shown: str, expected: Any) -> Any:
    """The page's raw event in the shape of ``_readable`` (of a decoded Avro record, the
    text fields ``expected`` has)."""
    try:
        value = json.loads(shown)
    except ValueError:
        return shown.strip()
    if isinstance(value, dict) and isinstance(expected, dict) and "kind" not in expected:
        return {k: value.get(k) for k in expected}
    return value


def test_district_scorecards_on_the_page_equal_the_cli(
    year: Year, page_url: str, page: Page, tmp_path: Path
) -> None:
    """Each district's rank, score, grade and every metric's on-time/due on the page are
    those `referrals scorecard --format json` prints, and the bar chart has one bar per
    scored district, at its score."""
    expected = cli(year, "scorecard", "--month", MONTH, "--level", "district", "--format", "json")
    page.goto(f"{page_url}/scorecards?month={MONTH}&level=district")
    rows = page.locator("#cards tr.card")
    assert rows.count() == len(expected) == 5
    for index, card in enumerate(expected):
        row = rows.nth(index)
        assert row.get_attribute("data-unit") == card["unit_code"]
        assert row.locator("a.unit").inner_text() == card["unit_name"]
        assert row.locator(".score").inner_text() == f"{card['score']:.2f}"
        assert row.locator(".rank").inner_text() == str(card["rank"])
        for name, tally in card["metrics"].items():
            cell = row.locator(f'td.metric[data-metric="{name}"]')
            assert cell.get_attribute("data-on-time") == str(tally["on_time"])
            assert cell.get_attribute("data-due") == str(tally["due"])
    assert page.locator("#revision").inner_text() == str(expected[0]["revision"])

    bars = page.locator("#bar-chart svg rect.bar")
    scored = {c["unit_name"]: c["score"] for c in expected if c["score"] is not None}
    assert bars.count() == len(scored)
    for index in range(bars.count()):
        bar = bars.nth(index)
        assert (
            float(bar.get_attribute("data-value") or "")
            == scored[bar.get_attribute("data-label") or ""]
        )
        assert bar.bounding_box() is not None and bar.bounding_box()["height"] > 0  # type: ignore[index]
    assert page.locator("#trend-chart svg polyline.series").count() >= 5
    page.screenshot(path=str(tmp_path / "scorecards-district-2022-12.png"), full_page=True)


def test_a_dead_letter_opens_to_its_raw_event(
    year: Year, page_url: str, page: Page, tmp_path: Path
) -> None:
    """Following a dead letter from the list shows its source and its raw bytes, as
    `referrals deadletters --format json` has them."""
    letters = cli(year, "deadletters", "--format", "json")
    assert letters, "the generated year carries dead letters"
    page.goto(f"{page_url}/deadletters")
    assert page.locator("#deadletters a.letter").count() == len(letters)
    page.screenshot(path=str(tmp_path / "deadletters.png"), full_page=True)
    page.locator("#deadletters a.letter").first.click()
    page.wait_for_selector("#raw")
    source = page.locator("#source").inner_text()
    [letter] = [x for x in letters if source in (_file_source(x), _topic_source(x))]
    assert page.locator("#raw-base64").inner_text() == letter["raw_base64"]
    expected = _readable(base64.b64decode(letter["raw_base64"]))
    assert _readable_shown(page.locator("#raw").inner_text(), expected) == expected
    page.screenshot(path=str(tmp_path / "deadletter.png"), full_page=True)


def test_a_district_drills_down_to_a_case(
    year: Year, page_url: str, page: Page, tmp_path: Path
) -> None:
    """District scorecard -> the district's squads and its late or missing items -> the
    case page of one of them, which shows what `referrals case` shows."""
    page.goto(f"{page_url}/scorecards?month={MONTH}")
    districts = page.locator("#cards a.unit")
    for index in range(districts.count()):
        page.goto(f"{page_url}/scorecards?month={MONTH}")
        page.locator("#cards a.unit").nth(index).click()
        page.wait_for_selector("h1")
        if page.locator("table.shortfalls a.case").count():
            break
    else:
        pytest.fail(f"no district has a late or missing item in {MONTH}")
    assert page.locator("#cards tr.card").count() > 1  # the district and its squads
    page.screenshot(path=str(tmp_path / "district-drilldown.png"), full_page=True)
    page.locator("table.shortfalls a.case").first.click()
    page.wait_for_selector("#case-no")
    case_id = page.url.rsplit("/", 1)[-1]
    expected = cli(year, "case", case_id, "--format", "json")
    assert page.locator("#case-no").inner_text() == expected["case_no"]
    assert page.locator("#referrals tr").count() == 1 + len(expected["referrals"])
    assert page.locator("#history tr").count() == len(expected["history"])
    page.screenshot(path=str(tmp_path / "case.png"), full_page=True)


def test_the_pipeline_page_shows_processes_and_lag(year: Year, page: Page, tmp_path: Path) -> None:
    """With a broker, the pipeline page shows each configured process's readiness and the
    records each topic still holds for the pipeline (three published, none consumed)."""
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, 2)
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap)
        for n in range(3):
            producer.send(topics.REFERRAL_TOPICS["HOUSING"], f"r{n}".encode(), partition=0)
        producer.flush()
        producer.close()
        checks = sink_checks(Settings(), broker.bootstrap)
        probes = start_probes("sink", 0, checks, host="127.0.0.1")
        assert probes is not None
        sink_url = f"http://127.0.0.1:{probes.port}"
        try:
            with served(
                year.db,
                tmp_path / "serve.log",
                "--broker",
                f"kafka://{broker.bootstrap}",
                probes=f"sink={sink_url}",
            ) as base:
                page.goto(f"{base}/")
                processes = page.locator("#processes").inner_text()
                lag = {
                    row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
                    for row in page.locator("#lag tr").all()[1:]
                }
                page.screenshot(path=str(tmp_path / "pipeline.png"), full_page=True)
                page.goto(f"{base}/cases?lang=en")
                assert "Cases" in page.locator("h1").inner_text()
                page.screenshot(path=str(tmp_path / "cases-en.png"), full_page=True)
        finally:
            probes.stop()
    assert "serve" in processes and sink_url in processes
    assert lag["referrals.housing"] == "3"
    assert lag["cases.snapshots"] == "0"


def test_feed_export_carries_the_scores_scorecard_prints(year: Year, tmp_path: Path) -> None:
    """The CSV opens as UTF-8 with a BOM and holds, for every unit of every level, the
    score, rank and on-time/due `referrals scorecard` prints; the JSON and charts are there."""
    import subprocess
    import sys

    out = tmp_path / "circular"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "referrals",
            "feed",
            "export",
            "--month",
            MONTH,
            "--out",
            str(out),
            "--db",
            year.db,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    raw = (out / f"scorecards-{MONTH}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = {r["单位代码"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8")[1:]))}
    for level in ("city", "district", "squad"):
        for card in cli(year, "scorecard", "--month", MONTH, "--level", level, "--format", "json"):
            row = rows[card["unit_code"]]
            assert row["单位名称"] == card["unit_name"]
            assert row["得分"] == ("" if card["score"] is None else f"{card['score']:.2f}")
            assert row["排名"] == ("" if card["rank"] is None else str(card["rank"]))
            assert row["修订版"] == str(card["revision"])
            assert row["立案及时_按时"] == str(card["metrics"]["filing_timeliness"]["on_time"])
            assert row["罚没执收_应办（分）"] == str(card["metrics"]["collection"]["due"])
    assert len(rows) == 1 + 5 + 30
    assert (out / f"district-scores-{MONTH}.png").read_bytes().startswith(b"\x89PNG")
    assert (out / f"district-scores-{MONTH}.svg").read_text("utf-8").count('class="bar"') >= 1


def _counters(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    values: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return values


def test_the_worker_serves_metrics_during_a_run(year: Year) -> None:
    """The run's worker answered /metrics (its probe port from REFERRALS_WORKER_PORT),
    in Prometheus' format, with the pipeline's metric families."""
    names = {f.name for f in text_string_to_metric_families(year.metrics)}
    assert {
        "referrals_events_consumed",
        "referrals_dead_letters",
        "referrals_cases_opened",
    } <= names


def test_metrics_scraped_during_a_run_equal_its_summary(year: Year) -> None:
    """The worker's counters equal the run's summary: events consumed (every published
    line but those the publisher itself refused, which never reach an input topic), dead
    letters by reason (those decided inside the pipeline), exact duplicates, amendments,
    merges, and cases opened less those absorbed when a late referral re-formed them."""
    values = _counters(year.metrics)

    def total(name: str) -> float:
        return sum(values.get(name, {}).values())

    letters = cli(year, "deadletters", "--format", "json")
    inside = [letter for letter in letters if letter["source_topic"] is not None]
    by_reason: dict[str, int] = {}
    for letter in inside:
        by_reason[letter["error"]] = by_reason.get(letter["error"], 0) + 1
    refused_at_publishing = len(letters) - len(inside)
    consumed = year.summary.published - refused_at_publishing
    assert total("referrals_events_consumed_total") == consumed
    assert {
        dict(k)["reason"]: v for k, v in values.get("referrals_dead_letters_total", {}).items()
    } == by_reason
    assert total("referrals_exact_duplicates_total") == year.summary.exact_duplicates
    assert total("referrals_amendments_total") == year.summary.amendments
    assert total("referrals_merges_total") == year.summary.merged
    opened = total("referrals_cases_opened_total")
    assert opened - total("referrals_cases_absorbed_total") == year.summary.cases_opened
