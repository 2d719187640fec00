"""Run several ``python -m train`` commands at once, e.g. seeds x settings side by side on one GPU.

``python -m train.sweep JOBS [--parallel N] [--root DIR] [--deadline S] [--show KEY ...] [--only NAME ...]``

``JOBS`` is a text file with one job per line, ``name: <arguments of python -m train>``; blank lines
and ``#`` comments are skipped, ``$VAR`` / ``${VAR}`` are expanded from the environment (so one file
serves several step budgets). Each job runs in its own process with its workdir ``ROOT/name`` (unless
its arguments name ``--workdir``) and its output in ``ROOT/name.log``. Up to ``--parallel`` jobs run at
once; GPU memory is allocated on demand (``XLA_PYTHON_CLIENT_PREALLOCATE=false``) so that they share
the device. A job still running at ``--deadline`` seconds after the start is stopped (its
``metrics.jsonl`` keeps the evaluations made so far). At the end the sweep prints one row per job: exit
status, wall time, last step, and the last eval record's ``--show`` keys; it writes the same to
``ROOT/sweep.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time


def parse_jobs(text: str, root: str) -> list[tuple[str, list[str]]]:
    """``[(name, argv)]`` from the job file's text, with ``--workdir ROOT/name`` added where absent."""
    jobs, seen = [], set()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, colon, args = line.partition(":")
        name = name.strip()
        if not colon or not name or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(f"line {number}: expected 'name: <arguments of python -m train>', got {line!r}")
        if name in seen:
            raise ValueError(f"line {number}: job name {name!r} used twice")
        seen.add(name)
        argv = shlex.split(os.path.expandvars(args))
        if not argv:
            raise ValueError(f"line {number}: job {name!r} has no arguments")
        if "--workdir" not in argv:
            argv += ["--workdir", os.path.join(root, name)]
        jobs.append((name, argv))
    return jobs


def _workdir(argv: list[str]) -> str:
    return argv[argv.index("--workdir") + 1]


def _last(workdir: str, split: str) -> dict:
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    records = [r for r in records if r.get("split") == split]
    return records[-1] if records else {}


def run(jobs, root: str, parallel: int, deadline: float | None, show: list[str]) -> list[dict]:
    os.makedirs(root, exist_ok=True)
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false", PYTHONUNBUFFERED="1")
    start = time.monotonic()
    pending, running, rows = list(jobs), {}, []
    while pending or running:
        while pending and len(running) < parallel:
            name, argv = pending.pop(0)
            log = open(os.path.join(root, f"{name}.log"), "w")
            proc = subprocess.Popen([sys.executable, "-m", "train", *argv], stdout=log, stderr=subprocess.STDOUT, env=env)
            running[name] = (proc, argv, log, time.monotonic())
            print(f"[sweep] start {name}: {shlex.join(argv)}", flush=True)
        time.sleep(1.0)
        late = deadline is not None and time.monotonic() - start > deadline
        for name, (proc, argv, log, t0) in list(running.items()):
            if late and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.poll() is None:
                continue
            log.close()
            del running[name]
            train, ev = _last(_workdir(argv), "train"), _last(_workdir(argv), "eval")
            row = {"name": name, "rc": proc.returncode, "status": "deadline" if late else ("ok" if proc.returncode == 0 else "failed"),
                   "wall_s": round(time.monotonic() - t0, 1), "train_step": train.get("step"), "eval_step": ev.get("step"),
                   **{k: ev.get(k) for k in show}}
            rows.append(row)
            print(f"[sweep] done {name}: {row}", flush=True)
        if late and pending:
            rows += [{"name": n, "rc": None, "status": "not started"} for n, _ in pending]
            pending = []
    with open(os.path.join(root, "sweep.json"), "w") as f:
        json.dump(rows, f, indent=1)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.sweep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("jobs", help="job file: lines 'name: <arguments of python -m train>'")
    parser.add_argument("--parallel", type=int, default=1, help="jobs at once (default 1)")
    parser.add_argument("--root", default="runs/sweep", help="workdirs and logs go under ROOT/<name>")
    parser.add_argument("--deadline", type=float, default=None, help="stop jobs still running after this many seconds")
    parser.add_argument("--show", nargs="*", default=[], help="eval metrics to print per job")
    parser.add_argument("--only", nargs="*", default=None, help="run only these jobs of the file")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error("--parallel must be >= 1")
    with open(args.jobs) as f:
        jobs = parse_jobs(f.read(), args.root)
    if args.only is not None:
        unknown = sorted(set(args.only) - {name for name, _ in jobs})
        if unknown:
            parser.error(f"--only names jobs not in {args.jobs}: {unknown}")
        jobs = [job for job in jobs if job[0] in args.only]
    rows = run(jobs, args.root, args.parallel, args.deadline, args.show)
    width = max(len(r["name"]) for r in rows) if rows else 4
    for r in rows:
        extra = "  ".join(f"{k}={r.get(k)}" for k in ["wall_s", "train_step", "eval_step", *args.show] if k in r)
        print(f"{r['name']:{width}s}  {r['status']:11s}  {extra}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
