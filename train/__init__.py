"""Experiment runners: ``python -m train <method> --config train/configs/<method>.py[:preset]``.

Each method contributes two modules:
  - ``train/configs/<method>.py``: ``get_config(preset) -> ml_collections.ConfigDict`` with the presets
    ``test`` (seconds; used by the tests), ``small`` (minutes on a laptop CPU; the quickstart) and
    ``paper`` (the paper's setting). Its docstring states the command, the runtime and the metric.
  - ``train/<method>.py``: ``train_and_evaluate(config, workdir, resume=False) -> summary dict``, which
    builds data, model and step from ``jaxsci`` and calls the shared loop ``jaxsci.core.fit``.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
from typing import Any

CONFIG_DIR = pathlib.Path(__file__).parent / "configs"


def methods() -> dict[str, str]:
    """Method name -> first line of its config docstring, for every ``train/configs/<method>.py``."""
    out = {}
    for path in sorted(CONFIG_DIR.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        module = load_module(path)
        out[path.stem] = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
    return out


def load_module(path: str | pathlib.Path):
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no config file {path}")
    spec = importlib.util.spec_from_file_location(f"_jaxsci_config_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_config(spec: str) -> Any:
    """Load ``path/to/config.py[:preset]`` (preset default ``small``) into a ConfigDict."""
    path, _, preset = spec.partition(":")
    module = load_module(path)
    if not hasattr(module, "get_config"):
        raise AttributeError(f"{path} defines no get_config(preset)")
    return module.get_config(preset or "small")


def fit_and_plot(name: str, config, workdir, problem, resume: bool = False) -> dict:
    """The body of every ``train_and_evaluate``: ``fit`` the ``(step, state, data, evaluate, plot)`` of a
    method's ``make_problem`` with ``config.fit``, then (process 0) ``plot(state, <workdir>/rollout.png)``
    if ``plot`` is not None. Returns the run summary.

    An optional sixth element ``eval_data`` (e.g. the validation set) is passed to ``fit``, which
    calls ``evaluate(state, key, eval_data)`` with it as a jit argument instead of a constant."""
    import os

    import jax

    from jaxsci.core import fit

    step, state, data, evaluate, plot, *rest = problem
    eval_data = rest[0] if rest else None
    result = fit(step, state, data, config.fit.to_dict(), workdir=workdir, evaluate=evaluate, resume=resume, eval_data=eval_data)
    if plot is not None and jax.process_index() == 0:
        print(f"[{name}] plot: {plot(result.state, os.path.join(workdir, 'rollout.png'))}")
    return result.summary


def runner(method: str):
    """The ``train_and_evaluate`` function of ``train/<method>.py``."""
    return importlib.import_module(f"train.{method}").train_and_evaluate
