"""The HTTP intake on a body nested deeper than any referral: a 400 naming the problem,
not a RecursionError from the JSON parser (a 500)."""

from __future__ import annotations

from pathlib import Path

from streams.settings import Settings
from tests.unit.web.test_intake import NEW, OLD, Broker, client_for, keys_file, post


def test_a_deeply_nested_body_is_refused_as_not_json(tmp_path: Path) -> None:
    """4 000 '[' in a body under the size limit is a 400 saying the nesting is too deep,
    and nothing is sent."""
    settings = Settings(
        db=f"sqlite:///{tmp_path / 'intake.db'}",
        api_keys=keys_file(tmp_path / "keys.toml", [OLD, NEW]),
        intake_max_bytes=4096,
    )
    broker = Broker()
    with client_for(settings, broker) as client:
        response = post(client, b"[" * 4000, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "nest deeper than 16 levels" in response.text
    assert broker.sent == []
