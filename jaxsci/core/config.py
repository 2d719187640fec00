"""Configuration of the shared loop, and strict handling of config keys.

Every config key is checked: an unknown key is an error that names the valid keys, raised before any
work is done (a typo such as ``num_step`` must never be silently ignored).
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Any, Iterable, Mapping


class ConfigError(ValueError):
    """A config names an unknown key, or a value of the wrong type or range."""


def check_keys(given: Iterable[str], valid: Iterable[str], where: str = "config") -> None:
    """Raise :class:`ConfigError` naming the valid keys if ``given`` has a key outside ``valid``."""
    valid = sorted(valid)
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {where}; valid keys are: {', '.join(valid)}")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """What the shared loop :func:`jaxsci.core.fit` needs to know. Steps count optimizer steps.

    Attributes:
      num_steps: total number of steps of the run (a resumed run continues up to this number).
      seed: the PRNG seed; the key of step ``i`` is ``fold_in(key(seed), i)``, so a resumed run draws
        exactly the random numbers an uninterrupted one would.
      log_every: steps between JSONL records / progress-bar updates (metrics are averaged over them).
      eval_every: steps between evaluations; 0 evaluates only at the end.
      checkpoint_every: steps between checkpoints; 0 saves only at the end (if there is a workdir).
      keep_checkpoints: how many of the latest checkpoints to keep.
      progress: show a tqdm progress bar (process 0 only).
      check_finite: stop with :class:`NonFiniteError` when a metric is NaN/inf (checked at each log
        and before each checkpoint, so a non-finite state is never saved).
      donate: donate the state's buffers to the jitted step (halves peak memory of the update).
      plot: write ``metrics.png`` (curves of the logged metrics) into the workdir at the end.
    """

    num_steps: int
    seed: int = 0
    log_every: int = 100
    eval_every: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 3
    progress: bool = True
    check_finite: bool = True
    donate: bool = True
    plot: bool = True

    def __post_init__(self):
        for name in ("num_steps", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"FitConfig.{name} must be a positive int, got {getattr(self, name)!r}")
        for name in ("seed", "eval_every", "checkpoint_every", "keep_checkpoints"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ConfigError(f"FitConfig.{name} must be a non-negative int, got {getattr(self, name)!r}")

    @classmethod
    def coerce(cls, config: "FitConfig | Mapping[str, Any]") -> "FitConfig":
        """A :class:`FitConfig` from itself or from a mapping (e.g. a ConfigDict), checking keys."""
        if isinstance(config, cls):
            return config
        if not isinstance(config, Mapping) and hasattr(config, "to_dict"):
            config = config.to_dict()
        if not isinstance(config, Mapping):
            raise ConfigError(f"expected a FitConfig or a mapping, got {type(config).__name__}")
        check_keys(config, [f.name for f in dataclasses.fields(cls)], "the fit config")
        return cls(**config)


def parse_value(text: str, like: Any) -> Any:
    """Parse a command-line string into the type of the existing value ``like``.

    ``bool`` accepts true/false/1/0; numbers, tuples and lists are parsed as Python literals; a
    string stays a string. Raises :class:`ConfigError` when the text does not fit the type.
    """
    if isinstance(like, bool):
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ConfigError(f"expected a bool (true/false), got {text!r}")
    if isinstance(like, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if like is None:
            return text
        raise ConfigError(f"cannot parse {text!r} as {type(like).__name__}") from None
    if like is None:
        return value
    if isinstance(like, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(like, tuple) and isinstance(value, list):
        value = tuple(value)
    if isinstance(like, list) and isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, type(like)) or isinstance(value, bool) != isinstance(like, bool):
        raise ConfigError(f"expected {type(like).__name__}, got {text!r}")
    return value


def apply_overrides(config, overrides: Mapping[str, str]):
    """Set dotted keys (``fit.num_steps``) of an ml_collections ``ConfigDict`` from strings.

    Every key must already exist: an unknown one raises :class:`ConfigError` naming the valid keys at
    that level. Returns the same (mutated) config.
    """
    for dotted, text in overrides.items():
        node = config
        parts = dotted.split(".")
        for depth, part in enumerate(parts):
            where = "config" + "".join("." + p for p in parts[:depth])
            check_keys([part], list(node.keys()), where)
            if depth == len(parts) - 1:
                try:
                    node[part] = parse_value(text, node[part])
                except ConfigError as e:
                    raise ConfigError(f"--config.{dotted}: {e}") from None
            else:
                node = node[part]
                if not hasattr(node, "keys"):
                    raise ConfigError(f"--config.{dotted}: {where}.{part} is a value, not a group")
    return config
