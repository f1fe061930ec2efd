"""The month's scorecards as the files the bureau attaches to its monthly circular:
CSV (UTF-8 with BOM, so Excel reads the Chinese), JSON, and the district scores as an
SVG and a PNG bar chart.

A restated month exports its latest revision; the files and the command say which.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from consumers.scorecard_feed import latest_scorecards
from streams.errors import NotFound
from web import charts
from web.labels import translator

LEVELS = ("city", "district", "squad")


@dataclass(frozen=True)
class Exported:
    month: str
    revision: int
    files: tuple[Path, ...]

    @property
    def restated(self) -> bool:
        return self.revision > 1


def month_cards(session: Session, month: str) -> dict[str, list[dict[str, Any]]]:
    """The latest revision of the month's scorecards at every level."""
    cards = {level: latest_scorecards(session, month, level) for level in LEVELS}
    if not any(cards.values()):
        raise NotFound(f"no scorecards for {month}: the month is not closed yet")
    return cards


def metric_names(cards: dict[str, list[dict[str, Any]]]) -> list[str]:
    first = next(card for level in LEVELS for card in cards[level])
    return list(first["metrics"])


def scorecards_csv(cards: dict[str, list[dict[str, Any]]]) -> str:
    """One row per unit, every level, in Chinese: on time and due of each metric (fen for
    collection), score, grade, rank and revision."""
    t = translator("zh")
    metrics = metric_names(cards)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    header = ["月份", "层级", "单位代码", "单位名称", "上级代码", "得分", "等级", "排名", "修订版"]
    for metric in metrics:
        unit = "（分）" if metric == "collection" else ""
        header += [f"{t(metric)}_按时{unit}", f"{t(metric)}_应办{unit}"]
    writer.writerow(header)
    for level in LEVELS:
        for card in cards[level]:
            row = [
                card["month"],
                t(level),
                card["unit_code"],
                card["unit_name"],
                card["parent_code"] or "",
                "" if card["score"] is None else f"{card['score']:.2f}",
                t(card["grade"]) if card["grade"] else "",
                card["rank"] or "",
                card["revision"],
            ]
            for metric in metrics:
                row += [card["metrics"][metric]["on_time"], card["metrics"][metric]["due"]]
            writer.writerow(row)
    return buffer.getvalue()


def district_chart(month: str, revision: int, districts: list[dict[str, Any]]) -> str:
    t = translator("zh")
    title = f"{month} {t('district scores')}"
    if revision > 1:
        title += f"（第{revision}版，更正）"
    ordered = sorted(districts, key=lambda c: c["unit_code"])
    return charts.bar_chart(title, [(c["unit_name"], c["score"], c["grade"]) for c in ordered])


def export_month(session: Session, month: str, out: Path) -> Exported:
    """Write the month's files into ``out`` (created if missing)."""
    cards = month_cards(session, month)
    revision = next(card for level in LEVELS for card in cards[level])["revision"]
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"scorecards-{month}"
    csv_path, json_path = stem.with_suffix(".csv"), stem.with_suffix(".json")
    svg_path = out / f"district-scores-{month}.svg"
    png_path = svg_path.with_suffix(".png")
    csv_path.write_text(scorecards_csv(cards), encoding="utf-8-sig", newline="")
    document = {"month": month, "revision": revision, "restated": revision > 1, **cards}
    json_path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    svg = district_chart(month, revision, cards["district"])
    svg_path.write_text(svg, encoding="utf-8")
    png_path.write_bytes(charts.to_png(svg))
    return Exported(month, revision, (csv_path, json_path, svg_path, png_path))
