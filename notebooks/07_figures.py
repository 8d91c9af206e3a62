# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · The paper's figures, from the cache
#
# This notebook draws the paper's figures and nothing else: every number comes from a table that
# an earlier notebook computed and cached. One section per figure; each is saved as
# `figures/<profile>/figNN_<slug>.png` and `.pdf`, with the numbers behind it as `figNN_<slug>.csv`
# (each profile draws into its own folder). A figure is redrawn only when its inputs or its drawing
# code changed. A figure whose data this profile does not have (under `lite`, CheXpert without its
# licensed data) is skipped with one line saying what is missing.
#
# **Reads:** cached tables only: `head_parameters` (`02_heads`); `results_glue`, `results_chexpert`,
# `results_mustard` with the runs and datasets behind them (`run_glue`, `run_chexpert`, `run_mustard`,
# `data_glue`, `data_chexpert`, `data_mustard`) from `03_training`, with their majority baselines
# and ceilings (`references_glue`, `references_chexpert`, `references_mustard`); the verdicts on the
# paper's claims `claims` (`03b_paper_claims`); `ablations_chexpert`
# (`04_ablations`); `scaling_run`, `scaling_results` and `shot_budget` (`04a`); `noise_level` and
# `noise_chexpert` (`05_noise`); `hardware_runs` and `hardware_chexpert` (`06_hardware`); `open_choices`
# (`04b`).
# **Writes:** `figures/`.

# %% tags=["parameters"]
profile: str = "demo"  # paper | lite | demo | smoke — settings in qmtl_utils/runtime/profiles.py
glue_tasks: str = "all"  # GLUE tasks: "all" (the nine) or a comma-separated subset such as "cola,mrpc"

# %%
import matplotlib.pyplot as plt

from qmtl_utils.runtime.cache import Cache
from qmtl_utils.runtime.profiles import missing_benchmarks
from qmtl_utils.notebook import environment_report, setup_notebook
from qmtl_utils.models.params import parameter_count_tables
from qmtl_utils.report.plotting import VARIANT_COLORS, draw_if_changed, grouped_bars

settings = setup_notebook(profile, glue_tasks=glue_tasks)
cache = Cache.for_profile(profile)
parameters = parameter_count_tables(cache, settings["scaling"], compute=False)
missing = missing_benchmarks(settings)  # {benchmark: why}: optional data this profile does not have
skipped = settings["skip_stages"]  # {stage: why}: stages this profile does not run

# %% [markdown]
# ## Fig. 2 — Classical vs quantum head parameters as the number of tasks grows
#
# *Total trainable parameters of the QMTL head against the simplest classical head under the
# capacity-matched rule d = S·T·L (Theorem 1).* Points are counted on instantiated heads; lines
# are Eqs. (15)-(17).

# %%
param_scaling = parameters.read_csv("param_scaling.csv")


def draw_fig02():
    fig, (ax_count, ax_ratio) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    T = param_scaling.n_tasks
    ax_count.plot(T, param_scaling.classical_eq15, color=VARIANT_COLORS["classical"], label="Classical, Eq. (15)")
    ax_count.plot(T, param_scaling.classical_measured, "o", color=VARIANT_COLORS["classical"], ms=4, label="Classical, counted")
    ax_count.plot(T, param_scaling.qmtl_eq16, color=VARIANT_COLORS["qmtl"], label="QMTL, Eq. (16)")
    ax_count.plot(T, param_scaling.qmtl_measured, "s", color=VARIANT_COLORS["qmtl"], ms=4, label="QMTL, counted")
    ax_count.set(xlabel="number of tasks T", ylabel="trainable head parameters", yscale="log")
    ax_count.legend(fontsize=8)
    ax_ratio.plot(T, param_scaling.ratio_measured, "o-", color=VARIANT_COLORS["qmtl"], ms=4, label="counted  $P_Q/P_C$")
    ax_ratio.plot(T, param_scaling.ratio_eq17, "--", color="black", label="Eq. (17)  $(L+k_\\theta L_h)/(L r T)$")
    ax_ratio.set(xlabel="number of tasks T", ylabel="$P_Q / P_C$", yscale="log")
    ax_ratio.legend(fontsize=8)
    row = param_scaling.iloc[0]
    fig.suptitle(
        f"Capacity-matched heads: S={row.task_qubits:.0f} qubits and r={row.outputs_per_task:.0f} logits per task, "
        f"L={row.n_layers:.0f}, $L_h$={row.head_layers:.0f}, $k_\\theta$=3",
        fontsize=10,
    )
    fig.tight_layout()
    return fig, param_scaling


draw_if_changed("fig02_param_scaling", sources=[parameters.key], settings=settings, draw=draw_fig02, data_dependent=False)

# %% [markdown]
# ## Fig. 4 — Trainable head parameters per benchmark
#
# *Total trainable parameters in the task-specific heads for GLUE, CheXpert and Extended MUStARD.*
# HQNN-Q uses as many qubits as QMTL (10, 10 and 13).

# %%
head_parameters = parameters.read_csv("head_parameters.csv")


def draw_fig04():
    fig, ax = plt.subplots(figsize=(8, 3.8))
    titles = list(dict.fromkeys(head_parameters.title))
    grouped_bars(
        ax,
        head_parameters,
        titles,
        group_col="title",
        value_col="measured",
        err_col=None,
        ylim=None,
        labels={"hqnnQ": "HQNN-Q"},
        annotate="{:.0f}",
    )
    ax.set_xticks(
        range(len(titles)), [f"{t}\n(Q={q})" for t, q in zip(titles, head_parameters[head_parameters.variant == "qmtl"].qubits)]
    )
    ax.set(ylabel="trainable head parameters")
    ax.legend(ncols=4, loc="upper left")
    fig.tight_layout()
    return fig, head_parameters


draw_if_changed("fig04_head_params", sources=[parameters.key], settings=settings, draw=draw_fig04, data_dependent=False)

# %% [markdown]
# ## Figs. 5–7 — The four heads on each benchmark
#
# Test metrics of the classical, HQNN-4, HQNN-Q and QMTL heads, mean and 95 % confidence interval
# over seeds (GLUE) or folds (CheXpert, Extended MUStARD), from the result tables of `03_training`.
# Every panel marks the **majority baseline** (dashed black: the most frequent training class) and,
# for the demo, the **ceiling** (green: a model of the generator's true latents), both computed on
# the same test splits (`references_<benchmark>`); a head is worth reading only between the two. Next to each figure,
# `figNN_<slug>_tests.csv` holds the paired comparison of QMTL with each baseline.

# %%
import pandas as pd

from qmtl_utils.studies import benchmark_runs
from qmtl_utils.spec import BENCHMARKS
from qmtl_utils.runtime.paths import figures_dir
from qmtl_utils.report.stats import mean_ci_table
from qmtl_utils.report.plotting import reference_marks
from qmtl_utils.studies import references as reference_study
from qmtl_utils.report.summaries import reference_means, task_means, paired_tests, scaling_summary


def benchmark_summary(benchmark):
    """(results entry, long metrics, mean with 95 % CI table) of one benchmark."""
    entry = benchmark_runs.results_entry(cache, settings, benchmark)
    metrics = entry.read_csv("metrics.csv")
    return entry, metrics, mean_ci_table(metrics, by=["task", "metric", "variant", "label"])


def benchmark_references(benchmark, replicate=None):
    """(references entry, baseline/ceiling rows) of one benchmark, for one replicate or all."""
    entry = reference_study.baselines_and_ceilings(cache, settings, benchmark, compute=False)
    table = entry.read_csv("references.csv")
    return entry, table if replicate is None else table[table.replicate == replicate]


def with_references(summary, refs, by=("task", "metric")):
    """The figure's table: the heads' rows and the references' (mean over replicates) in one."""
    marks = reference_means(refs, list(by)).rename(columns={"reference": "label"})
    return pd.concat([summary, marks.assign(variant=marks.label)], ignore_index=True)


def save_paired_tests(metrics, name):
    """QMTL vs each baseline (:func:`~qmtl_utils.report.summaries.paired_tests`), saved beside the figure."""
    tests = paired_tests(metrics)
    tests.to_csv(figures_dir(profile) / f"{name}_tests.csv", index=False)
    return tests


# %% [markdown]
# ### Fig. 5 — GLUE, primary and secondary metrics (Table 3)

# %%
glue_entry, glue_metrics, glue_summary = benchmark_summary("glue")
glue_refs_entry, glue_refs = benchmark_references("glue")
glue_tasks = [t.name for t in BENCHMARKS["glue"].tasks if t.name in set(glue_metrics.task)]  # the tasks this run has
glue_note = (
    ""
    if len(glue_tasks) == 9
    else (f"GLUE: {len(glue_tasks)} of the 9 tasks ({', '.join(glue_tasks)}), as asked for with glue_tasks")
)


def draw_fig05():
    fig, axes = plt.subplots(2, 1, figsize=(10, 6.5))
    for ax, kind in zip(axes, ("primary", "secondary")):
        table = glue_summary[glue_summary.metric.str.startswith(kind)]
        names = table.drop_duplicates("task").set_index("task").metric.str.split(":").str[1]
        grouped_bars(
            ax,
            table,
            glue_tasks,
            title=f"{kind} metric",
            ylabel="score",
            err_col=("ci_low", "ci_high"),
            ylim=(min(-0.1, table.ci_low.min() - 0.05), 1.05),
        )
        reference_marks(ax, reference_means(glue_refs[glue_refs.metric.str.startswith(kind)], ["task"]), glue_tasks)
        ax.set_xticks(range(len(glue_tasks)), [f"{t}\n{names.get(t, '')}" for t in glue_tasks], fontsize=8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=6, fontsize=8)
    fig.tight_layout()
    return fig, with_references(glue_summary, glue_refs)


draw_if_changed("fig05_glue", sources=[glue_entry.key, glue_refs_entry.key], settings=settings, draw=draw_fig05, note=glue_note)

# %%
save_paired_tests(glue_metrics, "fig05_glue")

# %% [markdown]
# ### Fig. 6 — CheXpert, positive-class metrics per pathology

# %%
METRICS = ("accuracy", "precision", "recall", "f1")
CHEXPERT_TASKS = [t.name for t in BENCHMARKS["chexpert"].tasks]


def draw_metric_grid(summary, tasks, refs):
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    for ax, metric in zip(axes.flat, METRICS):
        grouped_bars(ax, summary[summary.metric == metric], tasks, title=metric, err_col=("ci_low", "ci_high"))
        reference_marks(ax, reference_means(refs[refs.metric == metric], ["task"]), tasks)
    fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=6, fontsize=8)
    fig.tight_layout()
    return fig, with_references(summary, refs)


if "chexpert" in missing:  # every CheXpert figure (6, 8-11) is skipped with this line
    print("Fig. 6 skipped:", missing["chexpert"])
else:
    chexpert_entry, chexpert_metrics, chexpert_summary = benchmark_summary("chexpert")
    chexpert_refs_entry, chexpert_refs = benchmark_references("chexpert")
    display(
        draw_if_changed(
            "fig06_chexpert",
            sources=[chexpert_entry.key, chexpert_refs_entry.key],
            settings=settings,
            draw=lambda: draw_metric_grid(chexpert_summary, CHEXPERT_TASKS, chexpert_refs),
        )
    )

# %%
if "chexpert" not in missing:
    display(save_paired_tests(chexpert_metrics, "fig06_chexpert"))

# %% [markdown]
# ### Fig. 7 — Extended MUStARD, all five tasks

# %%
from qmtl_utils.data import datasets
from qmtl_utils.models.backbones.mustard import describe_features

mustard_entry, mustard_metrics, mustard_summary = benchmark_summary("mustard")
mustard_refs_entry, mustard_refs = benchmark_references("mustard")
mustard_what = describe_features(datasets.mustard_dataset(cache, settings["data"]["mustard"]).manifest["meta"])
draw_if_changed(
    "fig07_mustard",
    sources=[mustard_entry.key, mustard_refs_entry.key],
    settings=settings,
    draw=lambda: draw_metric_grid(mustard_summary, [t.name for t in BENCHMARKS["mustard"].tasks], mustard_refs),
    note="" if settings["is_demo"] else f"Extended MUStARD features: {mustard_what}",
)

# %%
save_paired_tests(mustard_metrics, "fig07_mustard")

# %% [markdown]
# ## The paper's claims (§5.2) — table and Fig. X4
#
# From `claims` (`03b_paper_claims`): every claim as a difference between two heads with its 95 %
# interval, the rule its words imply and the verdict. The table is saved beside the figures as
# `claims.csv`; Fig. X4 draws each difference with its interval against zero and the margin ±δ
# (grey band) that "on par" and "competitive" allow.

# %%
from qmtl_utils.studies import paper_claims

claims_entry = paper_claims.claims(cache, settings, compute=False)
claims_table = claims_entry.read_csv("claims.csv")
claims_table.to_csv(figures_dir(profile) / "claims.csv", index=False)
VERDICT_COLORS = {"holds": "#2a9d3a", "does not hold": "#b00020", "cannot tell at this size": "#888888"}


def draw_figx4():
    rows = claims_table[claims_table.difference.notna()].reset_index(drop=True)
    margin = settings["claims"]["margin"]
    y = list(range(len(rows)))[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.5))
    ax.axvspan(-margin, margin, color="#dddddd", zorder=0, label=f"±δ = {margin}")
    ax.axvline(0, color="black", lw=0.8)
    for yi, r in zip(y, rows.itertuples()):
        ax.errorbar(
            r.difference,
            yi,
            xerr=[[r.difference - r.ci_low], [r.ci_high - r.difference]],
            fmt="o",
            ms=4,
            capsize=2,
            color=VERDICT_COLORS.get(r.verdict, "black"),
        )
    labels = [
        f"{r.benchmark} · {r.claim}"
        + (f" · {r.task}" if r.task not in ("all tasks", "") else "")
        + f" ({r.comparison}, {r.metric})"
        for r in rows.itertuples()
    ]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set(xlabel="difference (95 % interval over seeds/folds)")
    for verdict, color in VERDICT_COLORS.items():
        ax.plot([], [], "o", color=color, label=verdict)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig, rows


draw_if_changed("figX4_claims", sources=[claims_entry.key], settings=settings, draw=draw_figx4, note=glue_note)

# %% [markdown]
# ## Figs. 8–9 — Ablations on the CheXpert configuration (§6.1–§6.2)
#
# From `ablations_chexpert` (`04_ablations`): every configuration trained on every fold.

# %%
from qmtl_utils.studies import ablations

if "chexpert" in missing:
    print("Figs. 8-11 skipped:", missing["chexpert"])
else:
    ablation_entry = ablations.ablations_entry(cache, settings)
    ablation_table = ablation_entry.read_csv("ablations.csv")


# %% [markdown]
# ### Fig. 8 — Encoder depth L and task depth L_h
#
# *Mean accuracy and F1 over the five tasks (mean and 95 % CI over folds) for each depth, with the
# head's trainable parameter count under each configuration; horizontal lines: the majority baseline
# (dashed) and the ceiling (solid), averaged over the tasks and folds the same way.*

# %%
def draw_fig08():
    per_fold = task_means(ablation_table[ablation_table.study != "entanglement"], ablations.RUN_COLUMNS, sort=False)
    summary = mean_ci_table(
        per_fold[per_fold.metric.isin(["accuracy", "f1"])], by=["study", "configuration", "head_params", "metric"]
    )
    refs = task_means(chexpert_refs, ["reference", "replicate"]).groupby(["reference", "metric"]).value.mean()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, study in zip(axes, ("encoder depth", "task depth")):
        rows = summary[summary.study == study]
        configs = list(dict.fromkeys(rows.configuration))
        grouped_bars(
            ax,
            rows,
            configs,
            title=study,
            series=("accuracy", "f1"),
            series_col="metric",
            group_col="configuration",
            colors={"accuracy": "#1f5fa8", "f1": "#d9711c"},
            label_col=None,
            labels={"accuracy": "mean Acc", "f1": "mean F1"},
            err_col=("ci_low", "ci_high"),
        )
        for (reference, metric), value in refs.items():
            if metric in ("accuracy", "f1"):
                ax.axhline(
                    value,
                    color={"accuracy": "#1f5fa8", "f1": "#d9711c"}[metric],
                    lw=1.2,
                    ls="--" if reference == "majority baseline" else "-",
                    label=f"{reference}, mean {'Acc' if metric == 'accuracy' else 'F1'}",
                )
        params = rows.drop_duplicates("configuration").set_index("configuration").head_params.loc[configs]
        ax.set_xticks(range(len(configs)), [f"{c}\n{p} params" for c, p in params.items()], fontsize=8)
    axes[0].set_ylabel("mean over the five tasks")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=6, fontsize=8)
    fig.tight_layout()
    return fig, pd.concat([summary, refs.rename("mean").reset_index().rename(columns={"reference": "configuration"})])


if "chexpert" not in missing:
    display(
        draw_if_changed(
            "fig08_depth_ablation", sources=[ablation_entry.key, chexpert_refs_entry.key], settings=settings, draw=draw_fig08
        )
    )


# %% [markdown]
# ### Fig. 9 — With and without encoder entanglement
#
# *Per-task accuracy (top) and F1 (bottom), mean and 95 % CI over folds, against the majority
# baseline and the ceiling, for the paper's head and the
# same head with every encoder CNOT removed (same parameter count).*

# %%
def draw_fig09():
    rows = ablation_table[ablation_table.study == "entanglement"]
    summary = mean_ci_table(rows[rows.metric.isin(["accuracy", "f1"])], by=["task", "metric", "configuration"])
    series = ["with CNOTs", "no CNOTs"]
    fig, axes = plt.subplots(2, 1, figsize=(8, 6))
    for ax, metric in zip(axes, ("accuracy", "f1")):
        grouped_bars(
            ax,
            summary[summary.metric == metric],
            CHEXPERT_TASKS,
            title=metric,
            series=series,
            series_col="configuration",
            colors={"with CNOTs": "#1f5fa8", "no CNOTs": "#9ecae1"},
            label_col=None,
            err_col=("ci_low", "ci_high"),
        )
        reference_marks(ax, reference_means(chexpert_refs[chexpert_refs.metric == metric], ["task"]), CHEXPERT_TASKS)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=6, fontsize=8)
    fig.tight_layout()
    return fig, with_references(summary.rename(columns={"configuration": "label"}), chexpert_refs)


if "chexpert" not in missing:
    display(
        draw_if_changed(
            "fig09_entanglement_ablation",
            sources=[ablation_entry.key, chexpert_refs_entry.key],
            settings=settings,
            draw=draw_fig09,
        )
    )

# %% [markdown]
# ## Fig. 10 — Depolarizing noise on Qiskit Aer (§6.3)
#
# *The fold-1 CheXpert QMTL head, identical weights, read on AerSimulator with depolarizing noise
# p on every gate: per-task accuracy (top) and F1 (bottom).* The shot count and measurement settings
# are written on the figure.

# %%
from qmtl_utils.studies.hardware_study import hardware_study
from qmtl_utils.studies.noise_study import noise_study
from qmtl_utils.report.plotting import series_colors

if "chexpert" not in missing:
    noise_entry = noise_study(cache, settings, compute=False)
    noise_summary = noise_entry.read_csv("summary.csv")
    noise_levels = noise_entry.read_csv("levels.csv")
    noise_delta = noise_entry.read_csv("delta.csv")
    checkpoint_refs = chexpert_refs[chexpert_refs.replicate == settings["training"]["chexpert"]["replicates"][0]]


def draw_fig10():
    series = list(dict.fromkeys(noise_summary.level))
    colors = {"exact": "#444444", **series_colors([s for s in series if s != "exact"], "viridis")}
    rows = noise_summary[noise_summary.metric.isin(["accuracy", "f1"])]
    fig, axes = plt.subplots(3, 1, figsize=(10, 9.2))
    for ax, metric in zip(axes, ("accuracy", "f1")):
        grouped_bars(
            ax,
            rows[rows.metric == metric],
            CHEXPERT_TASKS,
            title=metric,
            series=series,
            series_col="level",
            colors=colors,
            label_col=None,
            err_col=("ci_low", "ci_high"),
        )
        reference_marks(ax, reference_means(checkpoint_refs[checkpoint_refs.metric == metric], ["task"]), CHEXPERT_TASKS)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=6, fontsize=8)
    delta = noise_delta[noise_delta.metric.isin(["accuracy", "f1"])].rename(columns={"difference": "mean"})
    grouped_bars(
        axes[2],
        delta,
        CHEXPERT_TASKS,
        series=("accuracy", "f1"),
        series_col="metric",
        label_col=None,
        colors={"accuracy": "#1f5fa8", "f1": "#d9711c"},
        err_col=("ci_low", "ci_high"),
        ylim=None,
        title=f"paired difference {delta['compare'].iloc[0]} minus {delta['reference'].iloc[0]} (95 % bootstrap interval)",
    )
    axes[2].axhline(0, color="black", lw=0.8)
    axes[2].legend(fontsize=8)
    info = noise_levels.iloc[-1]
    fig.suptitle(
        f"fold-1 checkpoint, {info.n_samples} test samples; {info.shots} shots × {info.measurement_settings} "
        f"settings per prediction, mean of {info.shot_seeds} shot seeds; bars: 95% bootstrap interval over "
        f"test samples and shot seeds; 'exact' = noiseless, infinite shots",
        fontsize=8,
    )
    fig.tight_layout()
    return fig, pd.concat([noise_summary, noise_delta.assign(level="difference")], ignore_index=True)


if "chexpert" not in missing:
    display(
        draw_if_changed("fig10_noise", sources=[noise_entry.key, chexpert_refs_entry.key], settings=settings, draw=draw_fig10)
    )

# %% [markdown]
# ## Fig. 11 — IBM Quantum backends (§7)
#
# *The same checkpoint and shots on each backend against the noiseless simulator.* Recorded real
# device runs (`06_hardware` with `mode="ibm"`) are drawn when they exist; otherwise the calibration
# snapshots (fake backends) are, and the figure says so.

# %%
from qmtl_utils.runtime.cache import MissingCacheEntry
from qmtl_utils.report.stats import wilson_interval
from qmtl_utils.training.metrics import NEGATIVE, POSITIVE


def wilson_intervals(rows):
    """95 % intervals of each row: Wilson for accuracy (a proportion of n, the task's evaluated
    (negative or positive) samples among those the hardware study read); for F1, which is not a
    proportion, the study's bootstrap interval over the same test samples (summary.csv)."""
    labels = benchmark_runs.checkpoint_inputs(cache, settings, "chexpert", settings["hardware"]["n_samples"])[2]
    n = pd.Series([int(((y == NEGATIVE) | (y == POSITIVE)).sum()) for y in labels.T], index=CHEXPERT_TASKS)
    bootstrap = hardware_entry.read_csv("summary.csv").set_index(["backend", "task", "metric"])
    low_high = [
        wilson_interval(r["mean"], n[r.task])
        if r.metric == "accuracy"
        else tuple(bootstrap.loc[(r.backend, r.task, r.metric), ["ci_low", "ci_high"]])
        for _, r in rows.iterrows()
    ]
    return rows.assign(ci_low=[lo for lo, _ in low_high], ci_high=[hi for _, hi in low_high], n=rows.task.map(n))


def recorded_hardware():
    """Real-device records if `06_hardware` ran with mode="ibm", else the calibration snapshots."""
    try:
        return "ibm", hardware_study(cache, settings, mode="ibm", compute=False)
    except MissingCacheEntry:
        return "fake", hardware_study(cache, settings, mode="fake", compute=False)


if "chexpert" not in missing:
    hardware_mode, hardware_entry = recorded_hardware()
    hardware_table = hardware_entry.read_csv("hardware.csv")
    hardware_jobs = hardware_entry.read_csv("jobs.csv")
    print(f"Fig. 11 from mode={hardware_mode!r}:", sorted(set(hardware_jobs.backend)))


def draw_fig11():
    series = list(dict.fromkeys(hardware_table.backend))
    colors = {"noiseless simulator": "#444444", **series_colors(series[1:], "plasma")}
    rows = hardware_table[hardware_table.metric.isin(["accuracy", "f1"])].rename(columns={"value": "mean"})
    rows = wilson_intervals(rows)
    fig, axes = plt.subplots(2, 1, figsize=(10, 6.5))
    for ax, metric in zip(axes, ("accuracy", "f1")):
        grouped_bars(
            ax,
            rows[rows.metric == metric],
            CHEXPERT_TASKS,
            title=metric,
            series=series,
            series_col="backend",
            colors=colors,
            label_col=None,
            err_col=("ci_low", "ci_high"),
        )
        reference_marks(ax, reference_means(checkpoint_refs[checkpoint_refs.metric == metric], ["task"]), CHEXPERT_TASKS)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=6, fontsize=8)
    where = "IBM Quantum devices" if hardware_mode == "ibm" else "calibration snapshots (fake backends), not devices"
    n_samples = hardware_jobs.groupby("requested_backend").n_samples.sum().iloc[0]
    fig.suptitle(
        f"{where}; {n_samples} test samples, {hardware_jobs.shots.iloc[0]} shots per setting; "
        "95 % intervals: Wilson (accuracy), bootstrap over the test samples (F1);\nbaseline and ceiling: "
        "the whole fold-1 test split",
        fontsize=9,
    )
    fig.tight_layout()
    return fig, rows


if "chexpert" not in missing:
    display(
        draw_if_changed(
            "fig11_hardware", sources=[hardware_entry.key, chexpert_refs_entry.key], settings=settings, draw=draw_fig11
        )
    )

# %% [markdown]
# ## Beyond the paper (`04a`) — task scaling and the shot budget
#
# ### Fig. X1 — Heads as the number of tasks grows
#
# *Capacity-matched heads (S = 2 qubits per task, Q = S·T, d = S·T·L) on a seeded family of related
# tasks: trainable head parameters counted on the instantiated heads (left), mean test accuracy over
# the tasks, mean ± std over seeds, with the majority-class rate dotted (middle), and training time per
# epoch (right; QMTL on the exact MPS simulator beyond 8 qubits).*

# %%
from qmtl_utils.studies import shot_study, task_scaling

scaling_skipped = skipped.get("04a_task_scaling_and_shots") or missing.get("chexpert")
if scaling_skipped:
    print("Figs. X1-X2 skipped:", scaling_skipped)
else:
    scaling_entry = task_scaling.run_scaling(cache, settings["task_scaling"], compute=False)
    scaling_runs = scaling_entry.read_csv("runs.csv")
SCALING_LABELS = {"classical": "Classical", "hqnn4": "HQNN-4", "qmtl": "QMTL"}


def draw_figx1():
    summary = scaling_summary(scaling_runs)
    fig, (ax_p, ax_a, ax_t) = plt.subplots(1, 3, figsize=(13, 3.8))
    for variant, rows in summary.groupby("variant"):
        style = dict(color=VARIANT_COLORS[variant], marker="o", ms=4, label=SCALING_LABELS[variant])
        ax_p.plot(rows["T"], rows.head_params, **style)
        ax_a.errorbar(rows["T"], rows.accuracy, yerr=rows.accuracy_std.fillna(0), capsize=3, **style)
        ax_t.plot(rows["T"], rows.epoch_s, **style)
    majority = summary.groupby("T").majority.mean()
    ax_a.plot(majority.index, majority.values, ":", color="black", label="majority class")
    for ax in (ax_p, ax_a, ax_t):
        ax.set(xscale="log", xlabel="number of tasks T")
        ax.set_xticks(sorted(summary["T"].unique()), [str(t) for t in sorted(summary["T"].unique())])
        ax.set_xticks([], minor=True)
    ax_p.set(yscale="log", ylabel="trainable head parameters (counted)")
    ax_a.set(ylabel="mean test accuracy over tasks", ylim=(0, 1))
    ax_t.set(yscale="log", ylabel="seconds per training epoch")
    ax_p.legend(fontsize=8)
    ax_a.legend(fontsize=8)
    fig.tight_layout()
    return fig, summary


if not scaling_skipped:
    display(draw_if_changed("figX1_task_scaling", sources=[scaling_entry.key], settings=settings, draw=draw_figx1))

# %% [markdown]
# ### Fig. X2 — Metrics vs shots per prediction
#
# *Fold-1 QMTL heads read with finite shots (mean over tasks, mean ± std over sampling seeds) against
# the total shots per prediction (shots per setting × measurement settings); dashed: the exact readout
# used in training; the classical head's value (zero shots) is marked on the left axis; dotted: the majority
# baseline, dash-dotted: the ceiling, on the same fold-1 test split. The table beside the figure says
# whether the largest shot count lies within two standard deviations of the exact value.*

# %%
if not scaling_skipped:
    shot_entries = {b: shot_study.shot_budget(cache, settings, b, compute=False) for b in settings["shot_budget"]["benchmarks"]}
    benchmark_results = {"chexpert": (chexpert_entry, chexpert_metrics), "mustard": (mustard_entry, mustard_metrics)}
    benchmark_refs = {"chexpert": (chexpert_refs_entry, chexpert_refs), "mustard": (mustard_refs_entry, mustard_refs)}


def draw_figx2():
    fig, axes = plt.subplots(1, len(shot_entries), figsize=(5.5 * len(shot_entries), 3.8), squeeze=False)
    tables = []
    for ax, (benchmark, entry) in zip(axes[0], shot_entries.items()):
        table = entry.read_csv("shots.csv")
        n_settings = entry.read_json("info.json")["measurement_settings"]
        mean = task_means(table[table.metric.isin(["accuracy", "f1"])], ["exact", "total_shots", "seed"])
        first = settings["training"][benchmark]["replicates"][0]
        classical = benchmark_results[benchmark][1]  # the classical head reads its logits with zero shots
        classical = classical[(classical.variant == "classical") & (classical.replicate == first)]
        fold_refs = benchmark_refs[benchmark][1]
        fold_refs = fold_refs[fold_refs.replicate == first]
        for metric, name, color in (("accuracy", "Acc", "#1f5fa8"), ("f1", "F1", "#d9711c")):
            rows = mean[(mean.metric == metric) & ~mean.exact].groupby("total_shots").value.agg(["mean", "std"])
            ax.errorbar(
                rows.index,
                rows["mean"],
                yerr=rows["std"].fillna(0),
                marker="o",
                ms=4,
                capsize=3,
                color=color,
                label=f"QMTL {name}, finite shots",
            )
            exact = mean[(mean.metric == metric) & mean.exact].value.iloc[0]
            ax.axhline(exact, ls="--", color=color, lw=1, label=f"QMTL {name}, exact readout")
            ax.plot(
                [rows.index.min() / 2],
                [classical[classical.metric == metric].value.mean()],
                marker="*",
                ms=12,
                color=color,
                ls="none",
                label=f"classical {name} (0 shots)",
            )
            refs = task_means(fold_refs[fold_refs.metric == metric], ["reference"]).set_index("reference").value
            for reference, style in (("majority baseline", ":"), ("ceiling", "-.")):
                if reference in refs:
                    ax.axhline(refs[reference], ls=style, color=color, lw=1.2, alpha=0.8, label=f"{reference} {name}")
            last = rows.index.max()
            tables.append(
                pd.DataFrame(
                    [
                        {
                            "benchmark": benchmark,
                            "metric": metric,
                            "total_shots": last,
                            "finite_mean": rows["mean"][last],
                            "finite_std": rows["std"][last],
                            "exact": exact,
                            "within_2_std": abs(rows["mean"][last] - exact) <= 2 * rows["std"][last] + 1e-12,
                            **refs.to_dict(),
                        }
                    ]
                )
            )
        shots_axis = sorted(mean[~mean.exact].total_shots.unique())
        ax.set_xscale("log")
        ax.set_xticks(shots_axis, [f"{s:.0f}" for s in shots_axis], fontsize=8, minor=False)
        ax.set_xticks([], minor=True)
        ax.set(
            xlabel=f"total shots per prediction ({n_settings} settings × shots per setting)",
            ylabel="mean over tasks",
            title=BENCHMARKS[benchmark].title,
            ylim=(0, 1),
        )
        tables.append(mean.assign(benchmark=benchmark))
    axes[0][0].legend(fontsize=7, ncols=2)
    fig.tight_layout()
    return fig, pd.concat(tables, ignore_index=True)


if not scaling_skipped:
    display(
        draw_if_changed(
            "figX2_shot_budget",
            sources=[e.key for e in shot_entries.values()]
            + [benchmark_results[b][0].key for b in shot_entries]
            + [benchmark_refs[b][0].key for b in shot_entries],
            settings=settings,
            draw=draw_figx2,
        )
    )

# %% [markdown]
# ### Fig. X3 — What the paper leaves open (`04b`)
#
# *Change of each head's task-mean metric when one open choice of the paper is read the other way
# (switched minus literal; GLUE: each task's primary metric, CheXpert and MUStARD: accuracy), mean and
# 95 % Student-t interval over the replicates of `03_training`; right, the paper's comparison under
# the same switch: QMTL minus the literal classical head (circles) and minus the better literal HQNN
# (squares). The first rows are the literal reading itself. Left of zero: the switch hurts.*

# %%
from matplotlib.ticker import MaxNLocator

from qmtl_utils.studies import open_choices

open_entry = open_choices.run_open_choices(cache, settings, compute=False)
open_summary = open_entry.read_csv("summary.csv")


def draw_figx3():
    first = open_choices.FIRST_METRIC
    rows = open_summary[[m == first[b] for b, m in zip(open_summary.benchmark, open_summary.metric)]]
    rows = rows.reset_index(drop=True)
    labels = [
        f"{BENCHMARKS[r.benchmark].title} · {r.choice}" + ("" if r.id == "literal" else f": {r.reading} ({r.variant})")
        for r in rows.itertuples()
    ]
    y = list(range(len(rows)))[::-1]
    fig, (ax_d, ax_c) = plt.subplots(1, 2, figsize=(12, 0.45 * len(rows) + 1.6), sharey=True)
    switched = rows.id != "literal"
    ax_d.errorbar(
        rows.delta[switched],
        [y[i] for i in rows.index[switched]],
        xerr=[rows.delta[switched] - rows.delta_low[switched], rows.delta_high[switched] - rows.delta[switched]],
        fmt="o",
        color="#333333",
        capsize=3,
    )
    ax_d.plot([0] * (~switched).sum(), [y[i] for i in rows.index[~switched]], "|", color="#333333", ms=12)
    ax_d.axvline(0, color="grey", lw=1)
    ax_d.set(xlabel="switched − literal (task mean)", title="switched − literal")
    for col, marker, color, name in (
        ("vs_classical", "o", VARIANT_COLORS["classical"], "QMTL − classical"),
        ("vs_best_hqnn", "s", VARIANT_COLORS["hqnnQ"], "QMTL − better HQNN"),
    ):
        err = [rows[col] - rows[f"{col}_low"], rows[f"{col}_high"] - rows[col]]
        ax_c.errorbar(
            rows[col],
            [v + (0.15 if marker == "s" else -0.15) for v in y],
            xerr=err,
            fmt=marker,
            color=color,
            capsize=3,
            label=name,
        )
    ax_c.axvline(0, color="grey", lw=1)
    ax_c.set(xlabel="difference of task means", title="QMTL against the literal heads")
    ax_c.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for ax in (ax_d, ax_c):
        ax.xaxis.set_major_locator(MaxNLocator(5))
    ax_d.set_yticks(y, labels, fontsize=8)
    fig.tight_layout()
    return fig, open_summary


draw_if_changed("figX3_open_choices", sources=[open_entry.key], settings=settings, draw=draw_figx3)

# %% [markdown]
# ## Exercises
#
# Each question is followed by its answer and a cell that checks it (the test suite runs it).
# Try the question before you read on.

# %% [markdown]
# **Exercise 1 (reading Fig. 2).** Under the capacity-matched rule of Fig. 2 ($S = 2$ qubits and
# $r = 3$ logits per task, $L = 3$, $L_h = 1$, $k_\theta = 3$), from how many tasks $T$ on does the QMTL
# head need at most a tenth of the classical head's parameters? Predict with Eq. (17) first, then
# exactly with Eqs. (15) and (16).

# %% [markdown]
# **Answer.** Eq. (17) gives $P_Q/P_C \approx (L + k_\theta L_h)/(L r T) = 6/(9T) = 2/(3T)$, at most
# $1/10$ from $T \ge 20/3$, so $T = 7$. Exactly, $P_Q/P_C = S T (L + k_\theta L_h) / \big(T r (S T L + 1)\big)
# = 12/(18T + 3)$, at most $1/10$ from $T \ge 6.5$: again $T = 7$. The ratio falls like $1/T$ because
# the classical heads grow as $T^2$ (each of $T$ heads reads all $d = STL$ features) and the quantum
# head as $T$. The cell solves both and checks every point of the figure's table against the answer:

# %%
import math

from qmtl_utils.models.params import capacity_matched_classical, capacity_matched_qmtl, capacity_matched_ratio

row = param_scaling.iloc[0]
S, r, L, L_h = (int(row[c]) for c in ("task_qubits", "outputs_per_task", "n_layers", "head_layers"))
leading = math.ceil(capacity_matched_ratio(1, L, L_h, r) / 0.1)  # Eq. (17): ratio(T) = ratio(1) / T
exact = next(T for T in range(1, 1000) if capacity_matched_qmtl(T, S, L, L_h) <= 0.1 * capacity_matched_classical(T, S, L, r))
assert ((param_scaling.ratio_measured <= 0.1) == (param_scaling.n_tasks >= exact)).all()
{"Eq. (17)": leading, "Eqs. (15)-(16)": exact}

# %% [markdown]
# **Exercise 2 (the intervals of Fig. 11).** Fig. 11 reads few test samples per device, so each
# accuracy bar carries a 95 % Wilson interval. A task evaluated on $n = 64$ samples, 51 of them right:
# how wide is its interval? How many samples would halve the width?

# %% [markdown]
# **Answer.** About $\pm 0.1$ around $0.8$: from 0.68 to 0.88. The width shrinks like $1/\sqrt n$, so
# halving it takes about four times the samples (a little more for small $n$, where the Wilson
# interval's correction terms still matter): $n = 262$. A difference of a few points between two
# backends on 64 samples is inside these intervals. The cell checks `wilson_interval` against
# SciPy's own Wilson interval and finds the halving $n$ by search:

# %%
from scipy.stats import binomtest

n, right = 64, 51
low, high = wilson_interval(right / n, n)
reference = binomtest(right, n).proportion_ci(0.95, method="wilson")
assert abs(low - reference.low) < 1e-12 and abs(high - reference.high) < 1e-12


def width(m):
    lo, hi = wilson_interval(right / n, m)
    return hi - lo


halved = next(m for m in range(n, 100 * n) if width(m) <= (high - low) / 2)
assert 4 * n <= halved <= 4.5 * n
{"interval": (round(low, 3), round(high, 3)), "samples to halve it": halved}

# %% [markdown]
# **Exercise 3 (the grey band of Fig. X4).** "On par" holds only when the whole 95 % interval lies in
# $[-\delta, +\delta]$. Which rows of Fig. X4 could never show "holds" for an "on par" claim, whatever
# their mean? If the difference between two heads has standard deviation $s$ across seeds and mean
# 0, how many seeds does "on par" need?

# %% [markdown]
# **Answer.** A row whose interval is wider than the band, $2\delta$, can never fit in it. With mean 0
# the interval is $\pm t_{0.975,\,n-1}\, s/\sqrt n$, so "on par" needs $t_{0.975,\,n-1}/\sqrt n \le \delta/s$:
# for $s = \delta$ that is $n = 7$ seeds ($t_{0.975,6}/\sqrt 7 = 0.92$), for $s = 2\delta$ already $n = 18$,
# far beyond the paper's three. The cell checks both statements:

# %%
import numpy as np
from scipy import stats

from qmtl_utils.report.stats import t_interval

margin = settings["claims"]["margin"]
wide = claims_table[(claims_table.ci_high - claims_table.ci_low) > 2 * margin]
assert not ((wide.rule.str.contains("within ±δ")) & (wide.verdict == "holds")).any()
seeds_needed = {}
for s in (margin, 2 * margin):
    n = next(n for n in range(2, 1000) if stats.t.ppf(0.975, n - 1) / np.sqrt(n) <= margin / s)
    unit = np.linspace(-1, 1, n)
    low, high = t_interval(s * unit / unit.std(ddof=1))  # n differences: mean 0, standard deviation s
    assert -margin <= low and high <= margin  # the interval fits in the band ...
    low, high = t_interval(s * np.linspace(-1, 1, n - 1) / np.linspace(-1, 1, n - 1).std(ddof=1))
    assert low < -margin  # ... and with one seed fewer it does not
    seeds_needed[f"s = {s / margin:.0f}δ"] = n
print(f"{len(wide)} of {len(claims_table)} rows have intervals wider than the band")
seeds_needed

# %% [markdown]
# ## Environment

# %%
environment_report()
