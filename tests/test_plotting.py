"""The shared drawing code of qmtl_utils.report.plotting: what is drawn is the data it was given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from scipy import stats  # noqa: E402

from qmtl_utils.report.plotting import VARIANT_COLORS, learning_curves, results_panel  # noqa: E402


def _history() -> pd.DataFrame:
    """Two heads, two runs each; one run validates every second epoch (as CheXpert may), one ties."""
    rows = []
    runs = {
        ("classical", 0): [0.5, 0.7, 0.6],
        ("classical", 1): [0.4, 0.6, 0.6],  # a tie: the first is kept
        ("qmtl", 0): [0.3, 0.3, 0.5],
        ("qmtl", 1): [np.nan, 0.45, 0.4],
    }
    for (variant, replicate), scores in runs.items():
        for epoch, score in enumerate(scores, start=1):
            rows.append(
                {
                    "variant": variant,
                    "replicate": replicate,
                    "label": variant.upper(),
                    "step": epoch,
                    "epoch": epoch,
                    "train_loss": 1.0 / epoch + 2 * replicate + 0.5 * (variant == "qmtl"),
                    "validation": score,
                }
            )
    return pd.DataFrame(rows)


def test_learning_curves_draw_every_run_and_mark_its_checkpoint():
    history = _history()
    fig, axes = plt.subplots(1, 2)
    learning_curves(axes, history, validation_label="val F1")
    loss_ax, val_ax = axes
    for (variant, replicate), run in history.groupby(["variant", "replicate"]):
        checked = run[run.validation.notna()]
        best = checked.iloc[int(np.argmax(checked.validation.to_numpy()))]  # numpy: the first maximum
        color = matplotlib.colors.to_rgba(VARIANT_COLORS[variant])
        for ax, ys, frame in ((loss_ax, "train_loss", run), (val_ax, "validation", checked)):
            curves = [
                line
                for line in ax.lines
                if line.get_linestyle() == "-"
                and len(line.get_xdata()) == len(frame)
                and np.allclose(line.get_ydata(), frame[ys])
            ]
            assert len(curves) == 1 and matplotlib.colors.to_rgba(curves[0].get_color(), 1) == color, (variant, ys)
            dots = [
                (line.get_xdata()[0], line.get_ydata()[0])
                for line in ax.lines
                if line.get_marker() == "o" and matplotlib.colors.to_rgba(line.get_color()) == color
            ]
            assert (best.step, best[ys]) in dots, (variant, replicate, ys)
    assert [(dot.get_xdata()[0]) for dot in val_ax.lines if dot.get_marker() == "o"] == [2, 2, 3, 2]
    assert sorted(t.get_text() for t in val_ax.legend().get_texts()) == ["CLASSICAL", "QMTL"]  # one entry per head
    assert (loss_ax.get_ylabel(), val_ax.get_ylabel(), val_ax.get_xlabel()) == ("training loss", "val F1", "epoch")
    plt.close(fig)


def _long_tables():
    rng = np.random.default_rng(0)
    metric_rows, reference_rows = [], []
    for replicate in range(3):
        for task, names in (
            ("cola", ("primary:matthews_corr", "secondary:accuracy")),
            ("sst2", ("primary:accuracy", "secondary:f1")),
        ):
            for metric in names:
                for variant in ("classical", "qmtl"):
                    metric_rows.append(
                        {
                            "variant": variant,
                            "label": variant,
                            "replicate": replicate,
                            "task": task,
                            "metric": metric,
                            "value": rng.uniform(0.2, 0.9),
                        }
                    )
                for reference in ("majority baseline", "ceiling"):
                    reference_rows.append(
                        {
                            "reference": reference,
                            "replicate": replicate,
                            "task": task,
                            "metric": metric,
                            "value": rng.uniform(0, 1),
                        }
                    )
    return pd.DataFrame(metric_rows), pd.DataFrame(reference_rows)


@pytest.mark.parametrize("metric", ["primary", "secondary:f1"])
def test_results_panel_bars_are_means_with_t_intervals_and_marks_the_references(metric):
    metrics, references = _long_tables()
    fig, ax = plt.subplots()
    tasks = ["cola", "sst2"]
    results_panel(ax, metrics, references, tasks, metric, ylim=None)
    chosen = metrics[metrics.metric.str.startswith(metric)]
    shown = [t for t in tasks if t in set(chosen.task)]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2  # one series per head
    for container, variant in zip(bars, ("classical", "qmtl")):
        heights = {round(bar.get_x() + bar.get_width() / 2): bar.get_height() for bar in container}
        for position, task in enumerate(tasks):
            values = chosen[(chosen.variant == variant) & (chosen.task == task)].value
            if task not in shown:
                assert np.isnan(heights[position])
                continue
            assert heights[position] == pytest.approx(values.mean())
    errorbars = [c for c in ax.containers if not isinstance(c, BarContainer)]
    low, high = stats.t.interval(0.95, 2, loc=0, scale=1)
    values = chosen[(chosen.variant == "qmtl") & (chosen.task == shown[0])].value
    half = high * values.std(ddof=1) / np.sqrt(3)
    segments = [s for c in errorbars for s in c.lines[2][0].get_segments() if len(s)]
    assert any(np.allclose(s[:, 1], [values.mean() - half, values.mean() + half]) for s in segments)
    bar_lines = [line for e in errorbars for line in e.lines[2]]
    marks = [m for c in ax.collections if isinstance(c, LineCollection) and c not in bar_lines for m in c.get_segments()]
    for reference in ("majority baseline", "ceiling"):
        rows = references[(references.reference == reference) & references.metric.str.startswith(metric)]
        for position, task in enumerate(tasks):
            if task in shown:
                mean = rows[rows.task == task].value.mean()
                assert any(np.allclose(m, [[position - 0.45, mean], [position + 0.45, mean]]) for m in marks)
    assert ax.get_title() == metric
    plt.close(fig)
