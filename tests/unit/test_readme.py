"""The README documents the configuration as the code has it."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from streams.settings import PREFIX, Settings

README = Path(__file__).parents[2] / "README.md"


def test_the_configuration_table_lists_every_setting_and_no_other() -> None:
    """Each row of the README's configuration table is a setting of streams/settings.py,
    and each setting has a row."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(REFERRALS_[A-Z_]+)`", section, flags=re.M))
    assert documented == {PREFIX + f.name.upper() for f in fields(Settings)}
