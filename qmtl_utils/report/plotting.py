"""Plot style, the paper figures' shared drawing code, and saving figures with their numbers.

Every figure goes to ``figures/<profile>/figNN_<slug>.{png,pdf}`` with the table behind it as
``figNN_<slug>.csv`` and a small ``.json`` stamp; :func:`draw_if_changed` redraws a figure only
when its cached inputs, its drawing code or the profile changed. Figures carry a footer naming
the profile; under the demo profiles a data-dependent figure says it shows demo data, under
``lite`` that it shows real data at reduced scale (and, via ``note``, what that figure's data are).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path
from typing import Callable, Sequence

import matplotlib.pyplot as plt

from qmtl_utils.runtime.paths import figures_dir

VARIANT_COLORS = {"classical": "#7f7f7f", "hqnn4": "#f2b279", "hqnnQ": "#d9711c", "qmtl": "#1f5fa8"}
DEMO_NOTE = "DEMO DATA (profile '{profile}'): small seeded stand-in data, not the paper's results"
LITE_NOTE = "lite: real data, reduced scale (profile 'lite'; qmtl_utils/runtime/profiles.py says what differs from the paper)"
NO_DATA_NOTE = "profile '{profile}': exact counts from instantiated heads; no data involved"


def set_style() -> None:
    """The companion's plot style (readable in print and on slides)."""
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 200,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.frameon": False,
            "savefig.bbox": "tight",
        }
    )


def stamp_profile(fig, settings: dict, data_dependent: bool, note: str = "") -> None:
    """Footer naming the profile; under a demo profile a data-dependent figure says so loudly, under
    ``lite`` it says the data are real at reduced scale; ``note`` (e.g. which GLUE tasks or MUStARD
    modalities the figure shows) is a second footer line."""
    if settings["is_demo"] and data_dependent:
        fig.text(
            0.5,
            -0.02,
            DEMO_NOTE.format(profile=settings["name"]),
            ha="center",
            va="top",
            color="#b00020",
            fontsize=10,
            fontweight="bold",
        )
    elif not data_dependent:
        fig.text(0.5, -0.02, NO_DATA_NOTE.format(profile=settings["name"]), ha="center", va="top", color="#555555", fontsize=8)
    elif settings.get("scale") == "lite":
        fig.text(0.5, -0.02, LITE_NOTE, ha="center", va="top", color="#1f5fa8", fontsize=10, fontweight="bold")
    else:
        fig.text(0.5, -0.02, f"profile '{settings['name']}'", ha="center", va="top", color="#555555", fontsize=8)
    if note:
        fig.text(0.5, -0.06, note, ha="center", va="top", color="#333333", fontsize=8)


def _source_text(fn: Callable) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):  # e.g. defined in an interactive session without source
        return fn.__code__.co_code.hex() + repr(fn.__code__.co_consts)


def figure_stamp(name: str, sources: Sequence[str], settings: dict, draw: Callable) -> str:
    """Hash of everything a figure depends on: its inputs' cache keys, profile, drawing code."""
    from qmtl_utils.runtime.fingerprint import code_fingerprint

    payload = {
        "name": name,
        "sources": list(sources),
        "profile": settings["name"],
        "plotting": code_fingerprint("qmtl_utils.report.plotting"),
        "draw": _source_text(draw),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def figure_paths(name: str, profile: str) -> dict[str, Path]:
    """The files of figure ``name`` of ``profile``: ``figures/<profile>/<name>.{png,pdf,csv,json}``."""
    base = figures_dir(profile) / name
    return {ext: base.with_suffix(f".{ext}") for ext in ("png", "pdf", "csv", "json")}


def draw_if_changed(
    name: str, *, sources: Sequence[str], settings: dict, draw: Callable[[], tuple], data_dependent: bool = True, note: str = ""
):
    """Draw figure ``name`` with ``draw() -> (fig, table)`` unless an up-to-date copy exists.

    ``sources`` are the cache keys of the tables the figure reads; ``note`` a footer line saying
    what data the figure shows (part of the stamp). Returns the saved PNG as an IPython image, so a
    notebook shows the same picture whether it was redrawn or not.
    """
    from IPython.display import Image

    paths = figure_paths(name, settings["name"])
    stamp = figure_stamp(name, [*sources, note], settings, draw)
    if all(p.exists() for p in paths.values()):
        try:
            current = json.loads(paths["json"].read_text()).get("stamp")
        except (OSError, json.JSONDecodeError):
            current = None
        if current == stamp:
            print(f"{name}: up to date ({paths['png'].name})")
            return Image(filename=str(paths["png"]))
    fig, table = draw()
    stamp_profile(fig, settings, data_dependent, note)
    paths["png"].parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(paths["png"])
    fig.savefig(paths["pdf"])
    table.to_csv(paths["csv"], index=False)
    paths["json"].write_text(
        json.dumps(
            {"stamp": stamp, "sources": list(sources), "profile": settings["name"], "is_demo": settings["is_demo"]}, indent=2
        )
    )
    plt.close(fig)
    print(f"{name}: drawn -> {', '.join(p.name for k, p in paths.items() if k != 'json')}")
    return Image(filename=str(paths["png"]))


def bar_labels(ax, bars, fmt: str = "{:.0f}") -> None:
    """Write each bar's value above it."""
    for bar in bars:
        ax.annotate(
            fmt.format(bar.get_height()),
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )


VARIANT_ORDER = ("classical", "hqnn4", "hqnnQ", "qmtl")


def series_colors(names: Sequence[str], cmap: str = "viridis") -> dict[str, tuple]:
    """Evenly spaced colours of ``cmap`` for an ordered series (noise levels, backends, configurations)."""
    colormap = plt.get_cmap(cmap)
    return {name: colormap(i / max(len(names) - 1, 1) * 0.85) for i, name in enumerate(names)}


def grouped_bars(
    ax,
    table,
    groups,
    title: str = "",
    ylabel: str = "",
    series: Sequence[str] = VARIANT_ORDER,
    series_col: str = "variant",
    colors: dict | None = None,
    label_col: str | None = "label",
    group_col: str = "task",
    value_col: str = "mean",
    err_col: str | tuple[str, str] | None = "std",
    ylim: tuple | None = (0, 1.05),
    labels: dict | None = None,
    annotate: str | None = None,
) -> None:
    """One group of bars per ``groups`` member (default: tasks), one bar per series member, with
    ``err_col`` error bars (Figs. 4-11).

    ``table`` has columns ``group_col``, ``value_col``, ``err_col`` (optional: a symmetric error, or a
    ``(low, high)`` pair of interval columns) and ``series_col`` (one metric). By default the series
    are the four head variants, labelled from the table's ``label`` column (``labels`` overrides
    single names); ``annotate`` (e.g. ``"{:.0f}"``) writes each bar's value above it.
    """
    colors = colors or VARIANT_COLORS
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        rows = table[table[series_col] == name].set_index(group_col).reindex(groups)
        if rows[value_col].isna().all():
            continue
        positions = [t + (i - (len(series) - 1) / 2) * width for t in range(len(groups))]
        label = (labels or {}).get(name) or (rows[label_col].dropna().iloc[0] if label_col else name)
        if isinstance(err_col, tuple) and rows[err_col[0]].notna().any():  # an interval (low, high)
            errors = [
                (rows[value_col] - rows[err_col[0]]).clip(lower=0).fillna(0),
                (rows[err_col[1]] - rows[value_col]).clip(lower=0).fillna(0),
            ]
        elif isinstance(err_col, tuple):  # no interval for this series: draw none rather than empty caps
            errors = None
        else:
            errors = rows[err_col].fillna(0) if err_col and err_col in rows else None
        bars = ax.bar(positions, rows[value_col], width, yerr=errors, capsize=2, color=colors[name], label=label)
        if annotate:
            bar_labels(ax, bars, annotate)
    ax.set_xticks(range(len(groups)), [str(t).replace("_", "\n") for t in groups], fontsize=8)
    ax.set(title=title, ylabel=ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)


REFERENCE_STYLES = {"majority baseline": {"color": "black", "linestyle": "--"}, "ceiling": {"color": "#2a9d3a", "linestyle": "-"}}


def reference_marks(ax, references, groups, group_col: str = "task", value_col: str = "mean") -> None:
    """The chance baseline and the attainable ceiling (:mod:`qmtl_utils.studies.references`) as a
    horizontal mark across each group of bars: ``references`` has one row per (``reference``,
    ``group_col``) with the value to draw (already averaged as the bars are)."""
    for name, style in REFERENCE_STYLES.items():
        rows = references[references["reference"] == name].set_index(group_col).reindex(groups)
        label = name
        for t, value in enumerate(rows[value_col]):
            if value == value:  # not NaN
                ax.hlines(value, t - 0.45, t + 0.45, linewidth=1.6, label=label, zorder=5, **style)
                label = None


def results_panel(
    ax,
    metrics,
    references,
    groups,
    metric: str,
    title: str | None = None,
    ylabel: str = "score",
    ylim: tuple | None = (0, 1.05),
    group_col: str = "task",
) -> None:
    """One panel of a benchmark's results (Figs. 5-7; ``03_training``): per task one bar per head, the
    mean and 95 % Student-t interval over replicates (:func:`~qmtl_utils.report.stats.mean_ci_table`),
    with the majority baseline and the ceiling marked across the task (:func:`reference_marks`,
    averaged over replicates as the bars are).

    ``metrics`` and ``references`` are the long tables ``metrics.csv`` (variant, label, replicate,
    task, metric, value) and ``references.csv`` (reference, replicate, task, metric, value); the
    panel shows the rows whose metric is ``metric`` or, for GLUE's per-task names, starts with
    ``metric + ":"`` (``"primary"``, ``"secondary"``).
    """
    from qmtl_utils.report.stats import mean_ci_table

    def rows(table):
        return table[(table.metric == metric) | table.metric.str.startswith(f"{metric}:")]

    summary = mean_ci_table(rows(metrics), by=[group_col, "variant", "label"])
    marks = rows(references).groupby(["reference", group_col]).value.mean().rename("mean").reset_index()
    grouped_bars(
        ax,
        summary,
        groups,
        title=metric if title is None else title,
        ylabel=ylabel,
        err_col=("ci_low", "ci_high"),
        ylim=ylim,
        group_col=group_col,
    )
    reference_marks(ax, marks, groups, group_col=group_col)


def learning_curves(
    axes,
    history,
    step_col: str = "step",
    run_cols: Sequence[str] = ("variant", "replicate"),
    series_col: str = "variant",
    colors: dict | None = None,
    label_col: str | None = "label",
    validation_label: str = "validation score",
    step_label: str = "epoch",
) -> None:
    """Learning curves of training runs: the training loss on ``axes[0]`` and the validation score
    that selects the checkpoint on ``axes[1]``, against ``step_col``, one line per run (``run_cols``)
    coloured by ``series_col`` (default: the head variant, labelled from ``label_col``). Each run's
    checkpoint, its first row with the largest validation score (the protocols keep the first of
    ties), is a dot on both curves.

    ``history`` has the columns of a cached run's ``history.csv``
    (:func:`qmtl_utils.studies.benchmark_runs.history_frame`: step, epoch, train_loss, validation)
    plus ``run_cols``; rows without a validation score (CheXpert epochs between checks) are left
    out of the validation curve only.

    Taught in: 03_training, "Learning curves of every head, from the cache"
    """
    colors = colors or VARIANT_COLORS
    loss_ax, val_ax = axes
    labelled = set()
    for _, run in history.groupby(list(run_cols), sort=False):
        run = run.sort_values(step_col)
        series = run[series_col].iloc[0]
        label = None
        if series not in labelled:
            labelled.add(series)
            label = run[label_col].iloc[0] if label_col and label_col in run else series
        checked = run[run.validation.notna()]
        loss_ax.plot(run[step_col], run.train_loss, color=colors[series], lw=1.2, alpha=0.8, label=label)
        val_ax.plot(checked[step_col], checked.validation, color=colors[series], lw=1.2, alpha=0.8, label=label)
        if len(checked):
            best = checked.loc[checked.validation.idxmax()]
            loss_ax.plot(best[step_col], best.train_loss, "o", color=colors[series], ms=5)
            val_ax.plot(best[step_col], best.validation, "o", color=colors[series], ms=5)
    from matplotlib.ticker import MaxNLocator

    loss_ax.set(xlabel=step_label, ylabel="training loss")
    val_ax.set(xlabel=step_label, ylabel=validation_label)
    for ax in axes:  # epochs and updates are counts
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
