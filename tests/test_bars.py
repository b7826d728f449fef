"""helpers._bars: one collection that draws what ``Axes.barh`` draws."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers._bars import hbars

Y, WIDTH, LEFT = [0, 1, 2, 3], [10.0, 5.0, np.nan, 2.5], [3.0, 8.0, 1.0, 20.0]


def test_same_rectangles_and_limits_as_barh() -> None:
    fig = Figure()
    ours, theirs = fig.subplots(1, 2)
    bars = hbars(ours, Y, WIDTH, LEFT, height=0.6, color=["r", "g", "b", "k"])
    theirs.barh(Y, WIDTH, left=LEFT, height=0.6, color=["r", "g", "b", "k"])
    drawn = [p.get_extents() for p in theirs.patches if np.isfinite(p.get_width())]
    assert len(bars.get_paths()) == len(drawn) == 3, "the NaN bar is left out"
    for path, rect in zip(bars.get_paths(), drawn):
        assert np.allclose(path.get_extents().bounds, theirs.transData.inverted().transform_bbox(
            rect).bounds)  # fmt: skip
    assert np.allclose(ours.get_xlim(), theirs.get_xlim()), (ours.get_xlim(), theirs.get_xlim())
    assert np.allclose(ours.get_ylim(), theirs.get_ylim()), (ours.get_ylim(), theirs.get_ylim())
    colors = np.asarray(bars.get_facecolor())
    assert [tuple(c) for c in colors] == [(1, 0, 0, 1), (0, 0.5, 0, 1), (0, 0, 0, 1)], colors


def test_a_scalar_y_and_one_colour_apply_to_every_bar() -> None:
    ax = Figure().subplots()
    bars = hbars(ax, 2, [1, 2], [0, 5], color="tab:blue", label="busy")
    assert len(bars.get_paths()) == 2 and len(bars.get_facecolor()) == 1
    assert bars.get_label() == "busy"
    assert len(hbars(ax, [], [], [], color=[]).get_paths()) == 0


def test_colours_must_match_the_bars() -> None:
    with pytest.raises(ValueError, match="color needs 1 or 3 entries"):
        hbars(Figure().subplots(), [0, 1, 2], [1, 1, 1], [0, 0, 0], color=["r", "g"])
