"""Figures: expected artists and written files."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from helpers.plots import (
    dominant_labels,
    plot_embedding_map,
    plot_history,
    plot_method_comparison,
    project_2d,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def line_labels(fig):
    return sorted(line.get_label() for ax in fig.axes for line in ax.get_lines())


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC)


# --------------------------------------------------------------------------- history


def test_history_loss_only(tmp_path):
    out = tmp_path / "sub" / "hist.png"
    fig = plot_history({"loss": [1.0, 0.8, 0.7], "val_loss": [1.1, 0.9, 0.85]}, path=out)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    assert line_labels(fig) == ["loss", "val_loss"]
    xs, ys = fig.axes[0].get_lines()[0].get_data()
    assert list(xs) == [1, 2, 3] and list(ys) == [1.0, 0.8, 0.7]
    assert_png(out)


def test_history_with_accuracy_and_lr():
    class FakeHistory:  # a keras History carries the dict in .history
        history = {
            "loss": [0.9, 0.5],
            "val_loss": [1.0, 0.6],
            "accuracy": [0.5, 0.7],
            "val_accuracy": [0.4, 0.6],
            "learning_rate": [1e-3, 5e-4],
        }

    fig = plot_history(FakeHistory())
    # loss panel, accuracy panel, and the secondary lr axis
    assert len(fig.axes) == 3
    assert line_labels(fig) == sorted(
        ["loss", "val_loss", "accuracy", "val_accuracy", "learning_rate"]
    )
    lr_axes = [ax for ax in fig.axes if any(line.get_label() == "learning_rate" for line in ax.get_lines())]
    assert lr_axes[0].get_yscale() == "log"


def test_history_validates():
    with pytest.raises(ValueError, match="'loss'"):
        plot_history({"val_loss": [1.0]})
    with pytest.raises(ValueError, match="has 1 values"):
        plot_history({"loss": [1.0, 2.0], "val_loss": [1.0]})
    with pytest.raises(ValueError, match="dict"):
        plot_history([1.0, 2.0])


# --------------------------------------------------------------------------- projection


def test_pca_hand_case():
    # Centred already; x has the larger spread, so PC1 = x axis and PC2 = y axis.
    x = np.array([[-2, 0, 0], [2, 0, 0], [0, -1, 0], [0, 1, 0]], dtype=float)
    got = project_2d(x)
    assert got.shape == (4, 2)
    np.testing.assert_allclose(got, [[-2, 0], [2, 0], [0, -1], [0, 1]], atol=1e-12)
    # a shift of every point does not move the projection (centring)
    np.testing.assert_allclose(project_2d(x + 5.0), got, atol=1e-12)


def test_tsne_needs_scikit_learn_or_runs():
    x = np.random.default_rng(0).normal(size=(20, 4))
    try:
        import sklearn  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install scikit-learn"):
            project_2d(x, method="tsne")
    else:
        assert project_2d(x, method="tsne", seed=0).shape == (20, 2)
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        project_2d(x, method="umap")


# --------------------------------------------------------------------------- map


def test_embedding_map_groups_and_annotations(tmp_path):
    rng = np.random.default_rng(0)
    v = 40
    genre = [None] + [f"g{(i - 1) // 10}" for i in range(1, v + 1)]  # 4 genres x 10
    vecs = rng.normal(size=(v + 1, 5))
    vecs[0] = 1e6  # padding: would dominate the PCA if it were drawn
    names = ["<pad>"] + [f"Song {i}" for i in range(1, v + 1)]
    out = tmp_path / "map.png"
    fig = plot_embedding_map(vecs, genre, names=names, highlight=[3, 25], path=out)
    ax = fig.axes[0]
    assert len(ax.collections) == 5  # one scatter per genre + the highlight rings
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [10, 10, 10, 10, 2]
    assert np.abs(np.vstack([c.get_offsets() for c in ax.collections])).max() < 100
    assert sorted(t.get_text() for t in ax.texts) == ["Song 25", "Song 3"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["g0 (10)", "g1 (10)", "g2 (10)", "g3 (10)"]
    assert_png(out)


def test_embedding_map_subsamples_but_keeps_highlights():
    rng = np.random.default_rng(1)
    v = 300
    labels = [None] + [None if i % 3 == 0 else ("a" if i % 3 == 1 else "b") for i in range(1, v + 1)]
    fig = plot_embedding_map(rng.normal(size=(v + 1, 4)), labels, highlight=[300], max_points=50)
    ax = fig.axes[0]
    # groups: a, b, unlabelled, then the ring around song 300
    assert len(ax.collections) == 4
    assert sum(len(c.get_offsets()) for c in ax.collections[:3]) == 50
    assert [t.get_text() for t in ax.texts] == ["300"]


def test_embedding_map_merges_rare_labels_into_other():
    v = 12
    labels = [None] + ["a"] * 5 + ["b"] * 4 + ["c", "d", "e"]
    fig = plot_embedding_map(np.random.default_rng(0).normal(size=(v + 1, 3)), labels, max_labels=2)
    ax = fig.axes[0]
    assert len(ax.collections) == 3 and len(ax.texts) == 0  # no highlight: no rings
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["a (5)", "b (4)", "other (3)"]


def test_embedding_map_validates():
    with pytest.raises(ValueError, match="labels must have length V\\+1 = 4"):
        plot_embedding_map(np.ones((4, 2)), ["x"] * 3)
    with pytest.raises(ValueError, match="highlight holds index 0"):
        plot_embedding_map(np.eye(4), ["x"] * 4, highlight=[0])


def test_dominant_labels():
    sets = [frozenset(), {"rock", "80s"}, {"rock"}, {"jazz"}, set(), {"80s", "pop"}, None]
    # frequencies: rock 2, 80s 2, jazz 1, pop 1; top-2 = 80s, rock (tie -> alphabetical)
    assert dominant_labels(sets, n_labels=2) == [None, "80s", "rock", "other", None, "80s", None]


# --------------------------------------------------------------------------- comparison


def test_method_comparison_bars(tmp_path):
    table = pd.DataFrame(
        {"method": ["random", "popularity", "cooc", "sgns"], "HR@10": [0.01, 0.05, 0.2, 0.1]}
    )
    out = tmp_path / "bars.png"
    fig = plot_method_comparison(table, path=out)
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.01, 0.05, 0.2, 0.1])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["random", "popularity", "cooc", "sgns"]
    assert ax.get_ylabel() == "HR@10"
    assert_png(out)
    with pytest.raises(ValueError, match="no column 'MRR@10'"):
        plot_method_comparison(table, metric="MRR@10")
