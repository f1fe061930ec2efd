"""The closed sets of values commands accept."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Format(StrEnum):
    text = "text"
    json = "json"


class CardFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Level(StrEnum):
    squad = "squad"
    district = "district"
    city = "city"


class Lang(StrEnum):
    zh = "zh"
    en = "en"


class Agency(StrEnum):
    HOUSING = "HOUSING"
    TRAFFIC_POLICE = "TRAFFIC_POLICE"
    ENVIRONMENT = "ENVIRONMENT"


FormatOpt = Annotated[Format, typer.Option("--format", help="text for people, json for scripts")]
InputFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]
