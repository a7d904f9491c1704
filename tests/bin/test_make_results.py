"""The results file shows the routing stage's figures, linked from where it is written."""

from pathlib import Path

from espnet_omnirouter.bin.make_results import FIGURES, figures_lines


def test_the_figures_present_are_shown_in_reading_order(tmp_path: Path):
    figures = tmp_path / "figures"
    figures.mkdir()
    for name in ("loss_curves.png", "routing_association.png"):
        (figures / name).write_bytes(b"\x89PNG")
    text = "\n".join(figures_lines(figures, tmp_path / "RESULTS.md"))
    assert f"{FIGURES[0][1]}:\n\n![routing_association](figures/routing_association.png)" in text
    assert f"{FIGURES[3][1]}:\n\n![loss_curves](figures/loss_curves.png)" in text
    assert text.index("routing_association.png") < text.index("loss_curves.png")
    assert "expert_load.png" not in text  # not drawn: not linked
    assert "(figures/routing_summary.md)" in text


def test_links_are_relative_to_the_results_file(tmp_path: Path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "expert_load.png").write_bytes(b"\x89PNG")
    lines = figures_lines(tmp_path / "figures", tmp_path / "exp" / "RESULTS.md")
    assert "![expert_load](../figures/expert_load.png)" in lines


def test_no_figures_no_section(tmp_path: Path):
    assert figures_lines(tmp_path / "missing", tmp_path / "RESULTS.md") == []
