"""What the paper leaves open, measured (beyond the paper; stage ``open_choices``, ``04b_open_choices``).

Every hyperparameter the paper states is implemented as stated, but some choices that decide the
numbers are not fixed by its text. Each is a documented switch of the code whose default is the
paper's literal reading (:data:`CHOICES`); this study trains the affected head with the switch
flipped, under the benchmark's own protocol and the replicates of ``03_training`` (whose cached
runs are the literal reading), and reports the change of every task's metrics.

====================  =====================================================  =====================
choice                literal reading (default)                              other reading measured
====================  =====================================================  =====================
encoding order        Eq. (3) as an operator product: RX(z) first, so the    rotations and ladder
                      first data layer meets |+> and is a global phase        first, then RX(z)
logit scale           CheXpert: learnable ("temperature", App. B.2);         the other one
                      GLUE, MUStARD: raw expectation values
angle map             the projection's outputs are the angles                π·tanh (bounded)
loss normalisation    CheXpert: sum over tasks of weighted means             one mean over labelled
                      (Eq. (23)'s N cancels)                                  entries, literal N
HQNN ansatz           our reconstruction: RY(w) per qubit, CNOT ring         no trainable RY;
                                                                             CNOT ladder
task weights          MUStARD: 0.2 for QMTL (App. C.3)                       1.0, as the others
qubit placement       GLUE: blocks in task order (MNLI on qubits 5-6)        MNLI last (B.1: S_9)
====================  =====================================================  =====================

The noise-gate granularity of §6.3 is the ``granularity`` setting of ``05_noise`` (a readout, not
a training, choice). The profile's ``open_choices`` setting says which (choice, benchmark) pairs
run (the demo runs a subset within its time budget; the paper profile runs them all).

``open_choices.csv`` has one row per (choice, benchmark, replicate, task, metric) with the
literal and the switched value; ``summary.csv`` one row per (choice, benchmark, metric), after
the literal reading's own rows (``id == "literal"``, ``delta`` 0), with the mean change over
tasks, its 95 % Student-t interval over replicates and the paired t-test
(:func:`qmtl_utils.report.stats.paired_comparison`), and the comparison the paper draws: the
switched head against the literal classical head and the better HQNN.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qmtl_utils.report.stats import paired_comparison, t_interval
from qmtl_utils.runtime import executor
from qmtl_utils.runtime.cache import Cache, Entry, write_csv
from qmtl_utils.runtime.fingerprint import code_fingerprint
from qmtl_utils.spec import BENCHMARKS, wires_with_task_last
from qmtl_utils.studies import benchmark_runs


@dataclass(frozen=True)
class OpenChoice:
    """One open choice: its other reading as ``spec`` overrides (the head) and ``settings``
    overrides (the protocol), per benchmark where they differ; ``variant``: the head it concerns."""

    id: str
    name: str
    reading: str
    variant: str
    benchmarks: tuple[str, ...]
    spec: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    spec_by_benchmark: dict = field(default_factory=dict)

    def spec_overrides(self, benchmark: str) -> dict:
        return {**self.spec, **self.spec_by_benchmark.get(benchmark, {})}


_ALL = ("glue", "chexpert", "mustard")
CHOICES: tuple[OpenChoice, ...] = (
    OpenChoice(
        "encoding_written",
        "encoding order",
        "written (rotations, ladder, then data)",
        "qmtl",
        _ALL,
        spec={"encoding_order": "written"},
    ),
    OpenChoice(
        "logit_scale_flipped",
        "logit scale",
        "flipped (CheXpert raw; GLUE, MUStARD learnable)",
        "qmtl",
        _ALL,
        spec_by_benchmark={
            "glue": {"output_scale": True},
            "chexpert": {"output_scale": False},
            "mustard": {"output_scale": True},
        },
    ),
    OpenChoice("angle_pi_tanh", "angle map", "pi*tanh", "qmtl", _ALL, spec={"angle_map": "pi_tanh"}),
    OpenChoice(
        "loss_entries",
        "loss normalisation",
        "mean over labelled entries",
        "qmtl",
        ("chexpert",),
        settings={"train": {"loss_normalisation": "entries"}},
    ),
    OpenChoice("hqnn_no_ry", "HQNN ansatz", "no trainable RY", "hqnn4", _ALL, spec={"hqnn_ansatz": "ring"}),
    OpenChoice("hqnn_ladder", "HQNN ansatz", "CNOT ladder", "hqnn4", _ALL, spec={"hqnn_ansatz": "ry_ladder"}),
    OpenChoice("task_weight_1", "task weights", "1.0 for QMTL", "qmtl", ("mustard",), settings={"qmtl_task_weight": 1.0}),
    OpenChoice(
        "mnli_last",
        "qubit placement",
        "MNLI on the last qubits",
        "qmtl",
        ("glue",),
        spec={"task_wires": wires_with_task_last(BENCHMARKS["glue"], "mnli")},
    ),
)

# the metric each benchmark's change is summarised in (GLUE: each task's primary metric)
SUMMARY_METRICS = {"glue": ("primary",), "chexpert": ("accuracy", "f1"), "mustard": ("accuracy", "f1")}
FIRST_METRIC = {b: metrics[0] for b, metrics in SUMMARY_METRICS.items()}  # what sentences and Fig. X3 show
# the literal reading compared with itself: the rows that state the paper's comparison as it stands
LITERAL = OpenChoice("literal", "literal reading", "the paper's", "qmtl", _ALL)


def planned(profile: dict) -> list[tuple[OpenChoice, str]]:
    """The (choice, benchmark) pairs the profile runs: ``profile["open_choices"]["runs"]`` lists
    ``[choice id, benchmark]`` pairs, or is ``"all"``."""
    runs = profile.get("open_choices", {}).get("runs", "all")
    pairs = [(c, b) for c in CHOICES for b in c.benchmarks]
    if runs == "all":
        return pairs
    wanted = {tuple(r) for r in runs}
    unknown = wanted - {(c.id, b) for c, b in pairs}
    if unknown:
        raise ValueError(f"unknown open-choice runs {sorted(unknown)}; choose from {[(c.id, b) for c, b in pairs]}")
    return [(c, b) for c, b in pairs if (c.id, b) in wanted]


def switched_profile(profile: dict, choice: OpenChoice, benchmark: str) -> dict:
    """A copy of ``profile`` whose ``benchmark`` training settings carry the choice's protocol change."""
    out = copy.deepcopy(profile)
    settings = out["training"][benchmark]
    for key, value in choice.settings.items():
        if isinstance(value, dict):
            settings[key] = {**settings.get(key, {}), **value}
        else:
            settings[key] = value
    return out


def _metric_family(benchmark: str, metric: str) -> str | None:
    for family in SUMMARY_METRICS[benchmark]:
        if metric == family or metric.startswith(f"{family}:"):
            return family
    return None


def change_table(literal: pd.DataFrame, switched: pd.DataFrame, choice: OpenChoice, benchmark: str) -> pd.DataFrame:
    """Rows (choice, reading, benchmark, variant, replicate, task, metric, literal, switched, delta)
    for the summary metrics of ``benchmark``; both tables are ``metrics.csv`` of the same head."""
    keys = ["replicate", "task", "metric"]
    a = literal[literal["variant"] == choice.variant][keys + ["value"]]
    b = switched[switched["variant"] == choice.variant][keys + ["value"]]
    merged = a.merge(b, on=keys, suffixes=("_literal", "_switched"), validate="one_to_one")
    merged["family"] = [_metric_family(benchmark, m) for m in merged["metric"]]
    merged = merged[merged["family"].notna()]
    out = pd.DataFrame(
        {
            "id": choice.id,
            "choice": choice.name,
            "reading": choice.reading,
            "benchmark": benchmark,
            "variant": choice.variant,
            "replicate": merged["replicate"],
            "task": merged["task"],
            "metric": merged["family"],
            "literal": merged["value_literal"],
            "switched": merged["value_switched"],
        }
    )
    out["delta"] = out["switched"] - out["literal"]
    return out.reset_index(drop=True)


def summary_table(changes: pd.DataFrame, literal_by_benchmark: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (choice, reading, benchmark, metric): per replicate the mean over tasks of the
    literal and switched values; their mean difference ``delta`` with its 95 % t interval and the
    paired tests; and the paper's comparison, the switched head's task mean minus the literal
    classical head's (``vs_classical``) and minus the better literal HQNN's (``vs_best_hqnn``), each
    with its 95 % t interval over replicates; and the :func:`verdict`."""
    rows = []
    for (choice_id, choice, reading, benchmark, variant, metric), group in changes.groupby(
        ["id", "choice", "reading", "benchmark", "variant", "metric"], sort=False
    ):
        per_rep = group.groupby("replicate")[["literal", "switched"]].mean()
        test = paired_comparison(per_rep["switched"], per_rep["literal"])
        low, high = t_interval((per_rep["switched"] - per_rep["literal"]).to_numpy())
        row = {
            "id": choice_id,
            "choice": choice,
            "reading": reading,
            "benchmark": benchmark,
            "variant": variant,
            "metric": metric,
            "n_replicates": len(per_rep),
            "n_tasks": group["task"].nunique(),
            "literal": per_rep["literal"].mean(),
            "switched": per_rep["switched"].mean(),
            "delta": test["mean_diff"],
            "delta_low": low,
            "delta_high": high,
            "t_pvalue": test["t_pvalue"],
            "wilcoxon_pvalue": test["wilcoxon_pvalue"],
            "note": test["note"],
        }
        others = literal_by_benchmark[benchmark]
        others = others[[_metric_family(benchmark, m) == metric for m in others["metric"]]]
        means = others.groupby(["variant", "replicate"])["value"].mean().unstack("variant")
        means = means.loc[per_rep.index].copy()
        means[variant] = per_rep["switched"]  # the switched head replaces its literal self
        hqnns = [v for v in ("hqnn4", "hqnnQ") if v in means]
        hqnn = means[hqnns].mean().idxmax() if hqnns else None
        for name, reference in (("classical", "classical"), ("best_hqnn", hqnn)):
            if reference is None or reference not in means or "qmtl" not in means:
                continue
            diff = (means["qmtl"] - means[reference]).to_numpy()
            row[f"vs_{name}"] = float(diff.mean())
            row[f"vs_{name}_low"], row[f"vs_{name}_high"] = t_interval(diff)
        row["best_hqnn"] = hqnn
        row["verdict"] = verdict(row)
        rows.append(row)
    return pd.DataFrame(rows)


def verdict(row) -> str:
    """The paper's conclusion under one switch, in words: QMTL comparable to the classical head (the
    interval of the difference reaches 0 or lies above it) and better than the better HQNN (its
    interval lies above 0)."""
    comparable = (
        row["vs_classical_high"] >= 0
        if np.isfinite(row.get("vs_classical_high", np.nan))
        else row.get("vs_classical", np.nan) >= 0
    )
    better = (
        row["vs_best_hqnn_low"] > 0 if np.isfinite(row.get("vs_best_hqnn_low", np.nan)) else row.get("vs_best_hqnn", np.nan) > 0
    )
    return (
        "holds"
        if comparable and better
        else "holds only in part (comparable to classical, not above HQNN)"
        if comparable
        else "holds only in part (above HQNN, below classical)"
        if better
        else "does not hold"
    )


def _params(profile: dict) -> dict:
    return {
        "runs": [[c.id, b] for c, b in planned(profile)],
        "settings": {b: profile["training"][b] for b in sorted({b for _, b in planned(profile)})},
    }


def run_open_choices(cache: Cache, profile: dict, compute: bool = True) -> Entry:
    """Train (or read back) every planned switch on every replicate; write ``open_choices.csv`` and
    ``summary.csv`` (stage ``open_choices``). ``compute=False`` only looks the tables up (what the
    figures notebook does), raising :class:`~qmtl_utils.runtime.cache.MissingCacheEntry` if absent."""

    def results(p: dict, benchmark: str, variants=None, spec_overrides=None) -> Entry:
        kwargs = {} if variants is None else {"variants": variants}
        if compute:
            return benchmark_runs.run_benchmark(cache, p, benchmark, spec_overrides=spec_overrides, **kwargs)
        return benchmark_runs.results_entry(cache, p, benchmark, spec_overrides=spec_overrides, **kwargs)

    literal, switched = {}, []
    if compute:  # every switched run at once (the literal ones are 03_training's)
        executor.prefetch(
            cache,
            [
                unit
                for choice, benchmark in planned(profile)
                for unit in benchmark_runs.benchmark_units(
                    cache,
                    switched_profile(profile, choice, benchmark),
                    benchmark,
                    (choice.variant,),
                    choice.spec_overrides(benchmark) or None,
                )
            ],
        )
    for choice, benchmark in planned(profile):
        if benchmark not in literal:
            literal[benchmark] = results(profile, benchmark)  # 03_training's runs, read back
        if compute:
            print(f"[open choices] {choice.name}: {choice.reading} on {benchmark}", flush=True)
        switched.append(
            (
                choice,
                benchmark,
                results(
                    switched_profile(profile, choice, benchmark),
                    benchmark,
                    (choice.variant,),
                    choice.spec_overrides(benchmark) or None,
                ),
            )
        )

    def write(folder) -> None:
        tables = {b: e.read_csv("metrics.csv") for b, e in literal.items()}
        changes = pd.concat([change_table(tables[b], e.read_csv("metrics.csv"), c, b) for c, b, e in switched], ignore_index=True)
        write_csv(changes, folder / "open_choices.csv")
        write_csv(
            pd.concat([literal_verdicts(tables), summary_table(changes, tables)], ignore_index=True), folder / "summary.csv"
        )

    upstream, code = [e.key for e in literal.values()] + [e.key for _, _, e in switched], code_fingerprint(__name__)
    if compute:
        return cache.get_or_compute(
            "open_choices",
            _params(profile),
            write,
            upstream=upstream,
            code_version=code,
            meta=benchmark_runs.profile_meta(profile),
        )
    return cache.lookup("open_choices", _params(profile), upstream=upstream, code_version=code)


def literal_verdicts(literal_by_benchmark: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The paper's comparison under the literal reading itself (:data:`LITERAL`, ``delta`` 0), per
    benchmark and summary metric."""
    changes = pd.concat([change_table(m, m, LITERAL, b) for b, m in literal_by_benchmark.items()], ignore_index=True)
    return summary_table(changes, literal_by_benchmark)


def describe(summary: pd.DataFrame, metric_by_benchmark: dict[str, str] | None = None) -> list[str]:
    """One sentence per (choice, benchmark) row of ``summary`` in its benchmark's first summary
    metric: the change with its interval and p-value, and whether the paper's conclusion holds."""
    metric_by_benchmark = metric_by_benchmark or FIRST_METRIC
    out = []
    for _, row in summary.iterrows():
        if row["metric"] != metric_by_benchmark[row["benchmark"]]:
            continue
        where = f"{row['benchmark']} ({row['metric']}, {row['n_replicates']} replicates)"
        comparison = (
            f"QMTL − classical {row['vs_classical']:+.3f} [{row['vs_classical_low']:+.3f}, "
            f"{row['vs_classical_high']:+.3f}], QMTL − {row['best_hqnn']} {row['vs_best_hqnn']:+.3f} "
            f"[{row['vs_best_hqnn_low']:+.3f}, {row['vs_best_hqnn_high']:+.3f}]"
        )
        if row["id"] == "literal":
            out.append(f"Literal reading, {where}: {comparison}; the paper's conclusion {row['verdict']}.")
            continue
        p = "n/a" if not np.isfinite(row["t_pvalue"]) else f"{row['t_pvalue']:.3g}"
        out.append(
            f"{row['choice']} → {row['reading']}, {where}: {row['variant']} changes by {row['delta']:+.3f} "
            f"[{row['delta_low']:+.3f}, {row['delta_high']:+.3f}] (paired t p = {p}); {comparison}; "
            f"the paper's conclusion {row['verdict']}."
        )
    return out
