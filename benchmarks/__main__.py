"""``python -m benchmarks [name ...] [--quick] [--json PATH] [--list]``."""

import argparse

from benchmarks.harness import registry, run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test, not for figures)")
    parser.add_argument("--json", default="benchmarks/results/latest.json", help="where to write results")
    parser.add_argument("--list", action="store_true", help="list the registered benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, fn in registry().items():
            print(f"{name:16s} {(fn.__doc__ or '').strip().splitlines()[0] if fn.__doc__ else ''}")
        return
    run(args.names, quick=args.quick, json_path=args.json)


if __name__ == "__main__":
    main()
