"""The catalogue of figures and how a figure is judged against its target."""

from __future__ import annotations

from bench.figures import AT_LEAST, AT_MOST, BELOW, Figure, Target, catalogue, size_label


def test_size_labels_name_powers_of_ten() -> None:
    """10 000 reads 10^4; a size that is no power of ten is written out."""
    assert [size_label(n) for n in (10_000, 1_000_000, 3_000, 1)] == ["10^4", "10^6", "3000", "1"]


def test_the_catalogue_has_every_figure_of_the_issue_for_the_sizes_asked() -> None:
    """Every numbered figure is there, e2e once per size and setup, memory at the two
    largest sizes, and only the largest judged against the one before."""
    figures = catalogue([10_000, 100_000, 1_000_000], ["embedded_1w", "kafka_2w"])
    numbers = {key.split(".", 1)[0] for key in figures}
    assert numbers == {"1", "2", "3", "4", "5", "6", "7"}
    e2e = [k for k in figures if k.startswith("2.")]
    assert len(e2e) == 6
    assert figures["2.e2e.kafka_2w.10^6"].target == Target(AT_LEAST, 1.6)
    assert "6.worker_rss.embedded_1w.10^4" not in figures
    assert figures["6.worker_rss.embedded_1w.10^5"].target is None
    assert figures["6.worker_rss.embedded_1w.10^6"].target == Target(AT_MOST, 2.0)
    assert list(figures) == sorted(figures, key=lambda k: k.split(".", 1)[0])


def test_a_ratio_target_is_judged_on_the_ratio_to_the_baseline() -> None:
    """At least 1.6x the baseline: 160 against 100 is met, 150 is not; no baseline, no verdict."""
    figure = Figure("2.x", "x", "events/s", Target(AT_LEAST, 1.6), value=160, baseline=100)
    assert figure.ratio == 1.6
    assert figure.met is True
    figure.value = 150
    assert figure.met is False
    figure.baseline = None
    assert figure.met is None


def test_a_bound_is_judged_on_the_value_alone() -> None:
    """Below 10 s is met at 9.9 s whatever the baseline, and not at 10 s."""
    figure = Figure("7.x", "x", "s", Target(BELOW, 10.0), value=9.9, baseline=0.5)
    assert figure.met is True
    figure.value = 10.0
    assert figure.met is False


def test_a_missing_figure_says_why_in_its_json() -> None:
    """A figure never measured has no value, no verdict, and its reason."""
    figure = Figure("4.sink", "sink", "rows/s", Target(AT_LEAST, 0.5), missing="not there yet")
    document = figure.as_json()
    assert document["value"] is None
    assert document["met"] is None
    assert document["missing"] == "not there yet"
    assert document["target"] == ">= 0.5x"
