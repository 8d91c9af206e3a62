"""The stage graph, declared once: which notebook writes which cache stages, which it reads, and
the executions ``run_all.sh`` makes of it.

Everything that needs to know the graph reads it from here: the pipeline (what to execute, with
which parameters, and which earlier stages a stage's stamp depends on), the cache (which notebook
to name when a result is missing), the tests (the smoke chain, and each notebook's
**Reads:**/**Writes:** text, which must list exactly the cache stages declared here).
"""

from __future__ import annotations

from dataclasses import dataclass

FIGURES = "figures/"  # what the figures notebook writes instead of cache entries


@dataclass(frozen=True)
class StageSpec:
    """One stage notebook ``notebooks/<notebook>.ipynb``.

    Args:
        notebook: the notebook's stem, ``NN[a-z]?_slug``.
        writes: the cache stages it produces (``figures/`` for the figures notebook).
        reads: the cache stages it needs from earlier notebooks.
        runs: extra parameters of each execution (one executed copy per dict); empty for one run.
        needs: benchmarks the whole stage needs: under a profile where one of them is optional and
            absent (``profiles.missing_benchmarks``), run_all skips the stage with the reason; an
            execution with a ``benchmark`` parameter needs that benchmark.
    """

    notebook: str
    writes: tuple[str, ...]
    reads: tuple[str, ...] = ()
    runs: tuple[dict, ...] = ()
    needs: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"notebooks/{self.notebook}.ipynb"


_BENCHMARKS = ("glue", "chexpert", "mustard")
_DATA = tuple(f"data_{b}" for b in _BENCHMARKS)
_RUNS = tuple(f"run_{b}" for b in _BENCHMARKS)
_RESULTS = tuple(f"results_{b}" for b in _BENCHMARKS)
_REFERENCES = tuple(f"references_{b}" for b in _BENCHMARKS)

GRAPH: tuple[StageSpec, ...] = (
    StageSpec("00_data_prep", writes=_DATA),
    StageSpec("01_backbones", writes=("glue_tokens", "mustard_text"), reads=_DATA),
    StageSpec("02_heads", writes=("head_parameters",)),
    StageSpec(
        "03_training",
        writes=("glue_tokens", "mustard_text", *_RUNS, *_RESULTS, *_REFERENCES),
        reads=(*_DATA, "glue_tokens", "mustard_text"),
        runs=tuple({"benchmark": b} for b in _BENCHMARKS),
    ),
    StageSpec("03a_mustard_fit", writes=("mustard_probe", "mustard_fit"), reads=("data_mustard", "mustard_text")),
    StageSpec("03b_paper_claims", writes=("claims",), reads=(*_DATA, *_RUNS, *_RESULTS, *_REFERENCES)),
    StageSpec(
        "04_ablations",
        writes=("run_chexpert", "results_chexpert", "ablations_chexpert"),
        reads=("data_chexpert", "run_chexpert"),
        needs=("chexpert",),
    ),
    StageSpec(
        "04a_task_scaling_and_shots",
        writes=("scaling_run", "scaling_results", "shot_budget"),
        reads=("data_chexpert", "run_chexpert"),
        needs=("chexpert",),
    ),
    StageSpec(
        "04b_open_choices",
        writes=(*_RUNS, *_RESULTS, "open_choices"),
        reads=(*_DATA, "glue_tokens", "mustard_text", *_RUNS, *_RESULTS),
    ),
    StageSpec("05_noise", writes=("noise_level", "noise_chexpert"), reads=("data_chexpert", "run_chexpert"), needs=("chexpert",)),
    StageSpec(
        "06_hardware", writes=("hardware_runs", "hardware_chexpert"), reads=("data_chexpert", "run_chexpert"), needs=("chexpert",)
    ),
    StageSpec(
        "07_figures",
        writes=(FIGURES,),
        reads=(
            "head_parameters",
            *_DATA,
            *_RUNS,
            *_RESULTS,
            *_REFERENCES,
            "claims",
            "ablations_chexpert",
            "scaling_run",
            "scaling_results",
            "shot_budget",
            "noise_level",
            "noise_chexpert",
            "hardware_runs",
            "hardware_chexpert",
            "open_choices",
        ),
    ),
)


def stage(notebook: str) -> StageSpec:
    """The declared stage of ``notebook`` (its stem)."""
    for spec in GRAPH:
        if spec.notebook == notebook:
            return spec
    raise KeyError(f"{notebook!r} is not a declared stage; stages: {', '.join(s.notebook for s in GRAPH)}")


def cache_stages() -> tuple[str, ...]:
    """Every cache stage some notebook writes, in order of first appearance."""
    return tuple(dict.fromkeys(w for s in GRAPH for w in s.writes if w != FIGURES))


def producers(cache_stage: str) -> tuple[str, ...]:
    """Paths of the notebooks that write ``cache_stage`` (ValueError for an undeclared stage)."""
    found = tuple(s.path for s in GRAPH if cache_stage in s.writes)
    if not found:
        raise ValueError(
            f"no notebook declares that it writes cache stage {cache_stage!r} (add it to qmtl_utils/runtime/stages.py)"
        )
    return found


def upstream(notebook: str) -> tuple[str, ...]:
    """The earlier notebooks whose outputs ``notebook`` reads, in graph order."""
    reads = set(stage(notebook).reads)
    names = [s.notebook for s in GRAPH]
    before = names[: names.index(notebook)]
    return tuple(n for n in before if reads & set(stage(n).writes))
