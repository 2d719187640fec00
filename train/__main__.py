"""``python -m train <method> [--config PATH[:preset]] [--workdir DIR] [--resume] [--config.key=value ...]``

Without arguments, lists the methods. The config defaults to ``train/configs/<method>.py:small``;
``--config.fit.num_steps=100`` style overrides must name existing keys (an unknown key is an error
naming the valid ones). The workdir defaults to ``runs/<method>``.
"""

from __future__ import annotations

import argparse
import sys

import train
from jaxsci.core.config import ConfigError, apply_overrides


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    overrides: dict[str, str] = {}
    rest = []
    for arg in argv:
        if arg.startswith("--config."):
            key, eq, value = arg[len("--config.") :].partition("=")
            if not eq:
                raise SystemExit(f"override {arg!r} needs the form --config.key=value")
            overrides[key] = value
        else:
            rest.append(arg)
    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("method", nargs="?", help="the method to train (omit to list them)")
    parser.add_argument("--config", help="config file and preset, PATH[:preset] (default train/configs/<method>.py:small)")
    parser.add_argument("--workdir", help="where metrics, plots and checkpoints go (default runs/<method>)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in the workdir")
    args = parser.parse_args(rest)

    available = train.methods()
    if args.method is None:
        print("methods (python -m train <method> --config train/configs/<method>.py:<test|small|paper>):")
        for name, doc in available.items():
            print(f"  {name:14s} {doc}")
        return 0
    if args.method not in available:
        raise SystemExit(f"unknown method {args.method!r}; available: {', '.join(available)}")
    spec = args.config or str(train.CONFIG_DIR / f"{args.method}.py")
    try:
        config = apply_overrides(train.load_config(spec), overrides)
    except ConfigError as e:
        raise SystemExit(f"config error: {e}") from None
    workdir = args.workdir or f"runs/{args.method}"
    print(f"[train] {args.method} with {spec} -> {workdir}")
    train.runner(args.method)(config, workdir, resume=args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
