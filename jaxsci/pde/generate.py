"""Write PDE data sets to chunked HDF5: ``python -m jaxsci.pde.generate <equation> --num N --split S --out DIR``.

Options: ``[--seed S] [--chunk C] [--nx N ...] [--nt NT] [--dtype float32|float64] [--baseline] [--quiet]``.

* Deterministic: trajectory ``i`` of split ``S`` uses the key ``fold_in(fold_in(key(seed), split_id), i)``,
  so the data do not depend on the chunk size, the order of chunks or an interruption.
* Resumable: each chunk is written, flushed, then marked in the ``done`` dataset; a rerun with the same
  parameters keeps the finished chunks and computes only the rest.
* Refusals, before any work: an unknown equation, a resolution the scheme cannot run (see each solver's
  ``check_resolution``), or an existing file written with other parameters (compared against the
  generation parameters stored as root attributes).

File ``DIR/<equation>_<split>.h5``: one dataset per field with the trajectory on the leading axis, e.g.
``u_200 (N, nt, 200)``, ``u_50 (N, nt, 50)`` and each trajectory's parameters (``alpha (N,)``,
``A (N, 5)``, ...); grids ``x_<nx>`` and ``t``; ``done (num_chunks,)``; root attributes with the
generation parameters (and ``generator = "jaxsci.pde"``).

Equations: E1, E2, E3 (:mod:`jaxsci.pde.burgers`; ``--nx`` the training grids, default 100 50 40),
WE1, WE2, WE3 (:mod:`jaxsci.pde.wave`; default 100 50 40 20), NavierStokes2D
(:mod:`jaxsci.pde.navier_stokes`; ``--nx 128`` cells per side, ``--nt 56`` frames), ShallowWater2D
(:mod:`jaxsci.pde.shallow_water`; ``--nx 128`` gives 64 x 128, ``--nt 90``), Maxwell3D
(:mod:`jaxsci.pde.maxwell`; ``--nx 32`` gives 32^3, ``--nt 8``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

SPLITS = {"train": 0, "valid": 1, "test": 2}
_COMPILED: dict[tuple[str, str], Callable] = {}


@dataclasses.dataclass(frozen=True)
class Equation:
    """How to generate one equation's trajectories.

    ``make(opts)`` returns a pure ``fn(key) -> dict of arrays`` (one trajectory; vmapped here);
    ``check(opts)`` raises ValueError for requests the scheme cannot run; ``grids(opts)`` returns the
    coordinate arrays stored beside the data; ``defaults`` fills options the user did not give.
    """

    make: Callable[[dict], Callable[[Any], dict]]
    check: Callable[[dict], None]
    grids: Callable[[dict], dict[str, np.ndarray]]
    defaults: dict


def _burgers_equation(name: str) -> Equation:
    from jaxsci.pde import burgers

    def check(o):
        for n in o["nx"]:
            burgers.check_resolution(name, n, o["nx_fine"])

    def make(o):
        return lambda key: burgers.generate(
            key, name, tuple(o["nx"]), o["nt"], nx_fine=o["nx_fine"], l_max=o["l_max"], baseline=o["baseline"],
            faithful=o["faithful"],
        )

    def grids(o):
        t = np.linspace(0.0, burgers.FAMILIES[name].t_end, o["nt"])
        return {"t": t, **{f"x_{n}": burgers.grid_np(n, faithful=o["faithful"]) for n in (o["nx_fine"], *o["nx"])}}

    # l_max None: 3 (the paper's), or 2 (the original code's) with faithful
    return Equation(make, check, grids, {"nx": [100, 50, 40], "nt": burgers.NT, "nx_fine": 200, "l_max": None,
                                         "baseline": False, "faithful": False})


def _wave_equation(name: str) -> Equation:
    from jaxsci.pde import wave

    def check(o):
        for n in (o["nx_fine"], *o["nx"]):
            wave.check_resolution(n)

    def make(o):
        return lambda key: wave.generate(key, name, tuple(o["nx"]), o["nt"], nx_fine=o["nx_fine"])

    def grids(o):
        t = np.linspace(0.0, wave.FAMILIES[name].t_end, o["nt"])
        return {"t": t, **{f"x_{n}": wave.chebyshev_grid_np(n) for n in (o["nx_fine"], *o["nx"])}}

    return Equation(make, check, grids, {"nx": [100, 50, 40, 20], "nt": wave.NT, "nx_fine": 200})


def _smoke_equation() -> Equation:
    from jaxsci.pde import navier_stokes as ns

    def cfg(o):
        n = o["nx"][0] if isinstance(o["nx"], list) else o["nx"]
        return ns.SmokeConfig(nx=n, ny=n, smoke_advection=o["smoke_advection"])

    def make(o):
        b = tuple(o["buoyancy_y"]) if isinstance(o["buoyancy_y"], list) else o["buoyancy_y"]
        return lambda key: ns.generate(key, o["nt"], cfg=cfg(o), skip=o["skip"], buoyancy_y=b)

    def check(o):
        if isinstance(o["nx"], list) and len(o["nx"]) != 1:
            raise ValueError(f"NavierStokes2D takes one grid size --nx N (N x N cells), got {o['nx']}")
        ns.check_config(cfg(o))

    def grids(o):
        c = cfg(o)
        return {"t": (o["skip"] + 1 + np.arange(o["nt"])) * c.dt, "x": (np.arange(c.nx) + 0.5) * c.dx,
                "y": (np.arange(c.ny) + 0.5) * c.dy}

    return Equation(make, check, grids, {"nx": [ns.NX], "nt": ns.NT, "skip": ns.SKIP_STEPS,
                                         "buoyancy_y": ns.BUOYANCY_Y, "smoke_advection": "semi_lagrangian"})


def _one(o, name):
    n = o["nx"]
    if isinstance(n, list):
        if len(n) != 1:
            raise ValueError(f"{name} takes one grid size --nx N, got {n}")
        n = n[0]
    return int(n)


def _shallow_water_equation() -> Equation:
    from jaxsci.pde import shallow_water as sw

    cfg = lambda o: sw.SWConfig(ny=_one(o, "ShallowWater2D") // 2, nx=_one(o, "ShallowWater2D"))

    def grids(o):
        c = cfg(o)
        return {"t": np.arange(o["nt"]) * c.dt_out, "x": (np.arange(c.nx) + 0.5) * c.dx,
                "y": (np.arange(c.ny) + 0.5) * c.dy}

    return Equation(lambda o: (lambda key: sw.generate(key, o["nt"], cfg=cfg(o))),
                    lambda o: sw.check_config(cfg(o)), grids, {"nx": [sw.NX], "nt": sw.NT})


def _maxwell_equation() -> Equation:
    from jaxsci.pde import maxwell as mx

    def make(o):
        return lambda key: mx.generate(key, o["nt"], n=_one(o, "Maxwell3D"), save_every=o["save_every"],
                                       skip=o["skip"], dt=o["dt"])

    def check(o):
        if _one(o, "Maxwell3D") < 4:
            raise ValueError("Maxwell3D needs at least 4 cells per side")
        mx.check_dt(o["dt"])

    def grids(o):
        n = _one(o, "Maxwell3D")
        return {"t": (o["skip"] + o["save_every"] * (1 + np.arange(o["nt"]))) * o["dt"], "x": np.arange(n) * 1.0}

    return Equation(make, check, grids, {"nx": [mx.N], "nt": mx.NT, "save_every": mx.SAVE_EVERY,
                                         "skip": mx.SKIP, "dt": mx.DT})


EQUATIONS: dict[str, Callable[[], Equation]] = {
    **{n: (lambda n=n: _burgers_equation(n)) for n in ("E1", "E2", "E3")},
    **{n: (lambda n=n: _wave_equation(n)) for n in ("WE1", "WE2", "WE3")},
    "NavierStokes2D": _smoke_equation,
    "ShallowWater2D": _shallow_water_equation,
    "Maxwell3D": _maxwell_equation,
}


def register_equation(name: str, factory: Callable[[], Equation]) -> None:
    """Add an equation to the command line (used by the 2D/3D solver modules)."""
    EQUATIONS[name] = factory


def trajectory_keys(seed: int, split: str, indices: np.ndarray):
    """Keys of trajectories ``indices`` of ``split``: ``fold_in(fold_in(key(seed), split_id), i)``."""
    base = jax.random.fold_in(jax.random.key(seed), SPLITS[split])
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.asarray(indices, jnp.uint32))


def _attrs(equation, split, num, seed, chunk, dtype, opts) -> dict:
    return {
        "generator": "jaxsci.pde",
        "equation": equation,
        "split": split,
        "num": int(num),
        "seed": int(seed),
        "chunk": int(chunk),
        "dtype": dtype,
        "options": json.dumps(opts, sort_keys=True),
    }


def generate_file(
    equation: str,
    *,
    num: int,
    split: str,
    out: str,
    seed: int = 0,
    chunk: int = 16,
    dtype: str = "float64",
    progress: bool = True,
    max_chunks: int | None = None,
    **options,
) -> str:
    """Generate (or finish) ``out/<equation>_<split>.h5``; returns its path. See the module docstring.

    ``max_chunks`` stops after that many new chunks (to test interruption); ``options`` are the
    equation's (``nx``, ``nt``, ...; unknown ones are refused).
    """
    import h5py
    from tqdm.auto import tqdm

    if equation not in EQUATIONS:
        raise ValueError(f"unknown equation {equation!r}; known: {sorted(EQUATIONS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {sorted(SPLITS)}")
    if num < 1 or chunk < 1:
        raise ValueError(f"num and chunk must be positive, got num={num}, chunk={chunk}")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    eq = EQUATIONS[equation]()
    unknown = set(options) - set(eq.defaults)
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for {equation}; known: {sorted(eq.defaults)}")
    opts = {**eq.defaults, **{k: v for k, v in options.items() if v is not None}}
    opts = {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()}
    eq.check(opts)  # unstable / unsupported resolution: refuse before any work
    chunk = min(chunk, num)
    attrs = _attrs(equation, split, num, seed, chunk, dtype, opts)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{equation}_{split}.h5")
    num_chunks = -(-num // chunk)

    if os.path.exists(path):
        with h5py.File(path, "r") as f:
            old = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
            diff = {k: (old.get(k), v) for k, v in attrs.items() if old.get(k) != v}
            if diff and (old or len(f)):  # an empty file (killed at creation) is simply reused
                lines = "\n".join(f"  {k}: existing {a!r}, requested {b!r}" for k, (a, b) in diff.items())
                raise ValueError(f"{path} exists with other generation parameters:\n{lines}\n"
                                 "remove it or choose another --out")

    cache_key = (equation, attrs["options"])
    if cache_key not in _COMPILED:  # one jitted function per (equation, options) in this process
        _COMPILED[cache_key] = jax.jit(jax.vmap(eq.make(opts)))
    batched = _COMPILED[cache_key]
    with jax.enable_x64(dtype == "float64"):
        with h5py.File(path, "a") as f:
            if "done" not in f:  # new file, or one interrupted before its first chunk: start clean
                for name in list(f):
                    del f[name]
                f.attrs.update(attrs)
                for name, arr in eq.grids(opts).items():
                    f.create_dataset(name, data=np.asarray(arr, dtype))
                f.create_dataset("done", shape=(num_chunks,), dtype=bool, fillvalue=False)
                f.flush()
            done = f["done"]
            todo = [c for c in range(num_chunks) if not done[c]]
            bar = tqdm(total=num, initial=(num_chunks - len(todo)) * chunk if todo else num, unit="traj",
                       desc=f"{equation}/{split}", disable=not progress, dynamic_ncols=True)
            for n_new, c in enumerate(todo):
                if max_chunks is not None and n_new >= max_chunks:
                    break
                lo, hi = c * chunk, min((c + 1) * chunk, num)
                idx = np.arange(lo, lo + chunk) % num  # pad the last chunk: one compiled shape
                data = jax.device_get(batched(trajectory_keys(seed, split, idx)))
                bad = [k for k, a in data.items() if np.asarray(a).dtype.kind == "f" and not np.isfinite(a).all()]
                if bad:
                    raise RuntimeError(f"chunk {c} of {path}: non-finite values in {bad} (the solver failed or ran "
                                       "out of steps); nothing of this chunk was marked done")
                for name, arr in data.items():
                    arr = np.asarray(arr)
                    if arr.dtype.kind == "f":
                        arr = arr.astype(dtype)
                    if name not in f:
                        f.create_dataset(name, shape=(num, *arr.shape[1:]), dtype=arr.dtype,
                                         chunks=(min(chunk, num), *arr.shape[1:]))
                    f[name][lo:hi] = arr[: hi - lo]
                f.flush()
                done[c] = True
                f.flush()
                bar.update(hi - lo)
            bar.close()
    return path


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m jaxsci.pde.generate", description=__doc__.splitlines()[0])
    p.add_argument("equation", help=f"one of {sorted(EQUATIONS)}")
    p.add_argument("--num", type=int, required=True, help="number of trajectories")
    p.add_argument("--split", required=True, help="train | valid | test")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk", type=int, default=16, help="trajectories per vmapped batch and HDF5 chunk")
    p.add_argument("--nx", type=int, nargs="+", default=None, help="resolution(s); equation-specific")
    p.add_argument("--nt", type=int, default=None, help="number of saved time points / steps")
    p.add_argument("--dtype", default="float64", help="float64 (the originals') or float32")
    p.add_argument("--baseline", action="store_true",
                   help="E1-E3: also store the WENO5 baseline run directly at each coarse nx (weno_<nx>)")
    p.add_argument("--faithful", action="store_true",
                   help="E1-E3: reproduce the original MP-PDE generator's quirks (jaxsci.pde.burgers docstring)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = _parse(argv)
    extra = {"baseline": True} if args.baseline else {}
    if args.faithful:
        extra["faithful"] = True
    try:
        path = generate_file(args.equation, num=args.num, split=args.split, out=args.out, seed=args.seed,
                             chunk=args.chunk, dtype=args.dtype, progress=not args.quiet, nx=args.nx, nt=args.nt,
                             **extra)
    except (ValueError, RuntimeError) as e:
        sys.exit(f"error: {e}")
    print(path)


if __name__ == "__main__":
    main()
