"""Optuna's pictures of a study as PNG files, plus the best trials as JSON."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optuna  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from audiostyle.config.schema import SweepConfig  # noqa: E402

log = logging.getLogger(__name__)


def _save(plot, path: Path, **kwargs) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
            ax = plot(**kwargs)
        figure = ax.flat[0].figure if hasattr(ax, "flat") else ax.figure
        figure.savefig(path, dpi=90, bbox_inches="tight")
        plt.close(figure)
    except Exception as err:  # too few trials for a plot is not a failure of the sweep
        log.warning("no %s: %s", path.name, err)


def write_study_plots(study: optuna.Study, cfg: SweepConfig, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    vis = optuna.visualization.matplotlib
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    names = list(cfg.objectives)
    if len(names) == 1:
        _save(
            vis.plot_optimization_history,
            out / "optimization_history.png",
            study=study,
            target_name=names[0],
        )
        if len(complete) >= 2:
            _save(
                vis.plot_param_importances,
                out / "param_importances.png",
                study=study,
                target_name=names[0],
            )
        best = [study.best_trial] if complete else []
    else:
        _save(vis.plot_pareto_front, out / "pareto_front.png", study=study, target_names=names)
        for i, name in enumerate(names):
            _save(
                vis.plot_optimization_history,
                out / f"optimization_history_{i}.png",
                study=study,
                target=lambda t, i=i: t.values[i],
                target_name=name,
            )
        best = study.best_trials if complete else []
    summary = {
        "study": cfg.study_name,
        "objectives": names,
        "trials": {
            s.name: sum(t.state == s for t in study.get_trials(deepcopy=False)) for s in TrialState
        },
        "best": [{"number": t.number, "values": t.values, "params": t.params} for t in best],
    }
    (out / "best.json").write_text(json.dumps(summary, indent=2))
    return out
