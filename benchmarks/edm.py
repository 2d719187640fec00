"""edm: EDM's training step and sampling chain (jitted JAX, either EGNN layout) against a PyTorch EGNN of the same
architecture in the original code's style (flat edge list of all N x N pairs, gather + ``scatter_add``), with the
same weights (when torch is installed).

Cases, on QM9-shaped batches (N = 29 padded atoms, real counts drawn from 10..29):

- ``train step``: L2 diffusion loss (random t, noise, network, squared error) + gradient w.r.t. all parameters +
  an Adam step; ours ``jit(gradient_step(edm.loss, optax.adam))``, the reference ``loss.backward()`` +
  ``torch.optim.Adam``. The paper's QM9 size (nf 256, 9 layers, batch 64) and a small one (nf 64, 4 layers).
- ``sample chain``: T denoising steps (network + ancestral update) + ``p(x, h | z_0)`` for 64 molecules; ours
  ``jit(edm.sample)`` (one ``lax.scan``), the reference a ``torch.no_grad()`` Python loop. The paper size only on a
  GPU (on CPU one chain takes most of an hour).

- ``train step ... edge list vs dense``: the layout question, both ours, same weights: the EGNN on a jraph-style
  edge list of the real pairs (``layout="edges"``, its budget from :func:`jaxsci.edm.egnn.edge_fraction_for`)
  against the dense masked ``(B, N, N)`` layout (the "reference" column; ratio > 1: the edge list is faster).

Timings are s per call (one step, one whole chain). ``max |d eps|``: the two networks' eps predictions on the
benchmark batch, same weights.
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.harness import Row, register, time_call, time_jitted, torch_device
from jaxsci import edm
from jaxsci.core import gradient_step, init_train_state

N_ATOMS = 29
CHARGES = np.array([1, 6, 7, 8, 9], np.float32)  # QM9's H C N O F


def molecule_batch(batch: int, seed: int = 0, n: int = N_ATOMS, num_classes: int = 5) -> dict[str, np.ndarray]:
    """A QM9-shaped random batch: ``positions (B, N, 3)`` Angstrom, ``one_hot (B, N, K)``, ``charges (B, N)``,
    ``mask (B, N)`` with 10..29 real atoms per molecule (``min(., n)``)."""
    rng = np.random.default_rng(seed)
    counts = np.minimum(rng.integers(10, 30, batch), n)
    mask = (np.arange(n)[None] < counts[:, None]).astype(np.float32)
    types = rng.integers(0, num_classes, (batch, n))
    return dict(positions=(1.5 * rng.normal(size=(batch, n, 3)) * mask[..., None]).astype(np.float32),
                one_hot=(np.eye(num_classes, dtype=np.float32)[types] * mask[..., None]),
                charges=CHARGES[types] * mask, mask=mask)


def make_model(nf: int, num_layers: int, timesteps: int = 1000, layout: str = "dense", batch_size: int = 64) -> edm.EDM:
    """EDM's QM9 setting (polynomial_2 schedule, 5 classes + charges, attention, tanh, coords_range 15); with
    ``layout="edges"`` the budget covers random batches of ``batch_size`` molecules of 10..29 atoms."""
    frac = edm.egnn.edge_fraction_for(np.arange(10, N_ATOMS + 1), batch_size, N_ATOMS) if layout == "edges" else 1.0
    return edm.EDM(edm.EDMConfig(timesteps=timesteps),
                   edm.EGNNDynamics(nf=nf, num_layers=num_layers, layout=layout, edge_fraction=frac))


def num_params(params) -> int:
    return sum(int(np.size(x)) for x in jax.tree.leaves(params))


@contextlib.contextmanager
def _torch_precision(torch, dev):
    """On CUDA, let torch use TF32 matmuls as XLA does for float32 by default (same arithmetic for both)."""
    old = torch.get_float32_matmul_precision()
    if dev == "cuda":
        torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(old)


def _torch_setup(model: edm.EDM, params, batch: dict):
    """``(torch, _edm_torch, device, Diffusion with the same weights, tensors of batch)`` or None without torch."""
    try:
        import torch

        from benchmarks import _edm_torch as tref
    except ImportError:
        return None
    dev = torch_device(torch)
    cfg, dyn = model.cfg, model.dynamics
    net = tref.EGNNDynamics(cfg.feature_dim, dyn.nf, dyn.num_layers, dyn.inv_sublayers, dyn.normalization_factor,
                            dyn.coords_range, dyn.norm_constant).to(dev)
    tref.load_flax(net, jax.device_get(params["dynamics"]["egnn"]))
    diff = tref.Diffusion(net, cfg.gamma_table, cfg.num_classes, cfg.norm_values)
    tb = {k: torch.tensor(np.asarray(v), device=dev) for k, v in batch.items()}
    tb["edge_mask"] = tref.edge_mask_of(tb["mask"])
    return torch, tref, dev, diff, tb


def eps_difference(model: edm.EDM, params, batch: dict, setup, t: float = 0.5) -> float:
    """max |eps_ours - eps_ref| of the two networks on ``batch`` normalised and noised at time ``t``."""
    torch, _, _, diff, tb = setup
    mask = jnp.asarray(batch["mask"])
    x, h, _ = edm.normalize(batch, model.cfg)
    z = jnp.concatenate([x, h], -1) + 0.3 * edm.sample_position_feature_noise(jax.random.key(7), mask, h.shape[-1])
    tt = jnp.full((mask.shape[0],), t)
    ours = model.apply({"params": params}, z, tt, mask)[0]
    with torch.no_grad():
        ref = diff.net(torch.tensor(np.asarray(z), device=tb["mask"].device), torch.tensor(np.asarray(tt),
                       device=tb["mask"].device), tb["mask"], tb["edge_mask"]).cpu().numpy()
    return float(np.max(np.abs(ref - np.asarray(ours))))


def _time_train_step(model: edm.EDM, params, batch: dict, repeats: int, warmup: int):
    opt = optax.adam(1e-4)
    step = jax.jit(gradient_step(lambda p, b, k: edm.loss(model, p, b, k), opt))
    state = init_train_state(params, opt)
    return time_jitted(step, state, jax.tree.map(jnp.asarray, batch), jax.random.key(1), repeats=repeats, warmup=warmup)


def _layout_suffix(layout: str) -> str:
    return ", edge list" if layout == "edges" else ""


def _repeats(nf: int, num_layers: int, quick: bool) -> tuple[int, int]:
    return (3, 1) if quick or nf * num_layers >= 1024 else (10, 2)


def _train_row(nf: int, num_layers: int, batch_size: int, quick: bool, layout: str = "dense") -> Row:
    model = make_model(nf, num_layers, layout=layout, batch_size=batch_size)
    batch = molecule_batch(batch_size)
    params = edm.init(jax.random.key(0), model, batch)
    repeats, warmup = _repeats(nf, num_layers, quick)
    ours = _time_train_step(model, params, batch, repeats, warmup)
    case = f"train step nf {nf} L {num_layers}, batch {batch_size}" + _layout_suffix(layout)
    notes = (f"ours {'dense masked (B,N,N)' if layout == 'dense' else 'edge list of the real pairs'}; "
             f"{num_params(params) / 1e6:.2f}M params; N {N_ATOMS}")
    setup = _torch_setup(model, params, batch)
    if setup is None:
        return Row("edm", case, ours.median_s, None, "torch (not installed)", ours.compile_s, notes=notes)
    torch, _, dev, diff, tb = setup
    with _torch_precision(torch, dev):
        d = eps_difference(model, params, batch, setup)
        topt = torch.optim.Adam(diff.net.parameters(), lr=1e-4)

        def torch_step():
            topt.zero_grad(set_to_none=True)
            loss = diff.loss(tb["positions"], tb["one_hot"], tb["charges"], tb["mask"], tb["edge_mask"])
            loss.backward()
            topt.step()
            return loss

        ref = time_call(torch_step, repeats=repeats, warmup=warmup)
    return Row("edm", case, ours.median_s, ref.median_s, f"torch edge list + scatter_add, Adam ({dev})", ours.compile_s,
               notes=f"{notes}; max |d eps| {d:.1e}")


def _sample_row(nf: int, num_layers: int, batch_size: int, timesteps: int, quick: bool, layout: str = "dense") -> Row:
    model = make_model(nf, num_layers, timesteps, layout, batch_size)
    batch = molecule_batch(batch_size, seed=1)
    params = edm.init(jax.random.key(0), model, batch)
    mask = jnp.asarray(batch["mask"])
    chain = jax.jit(lambda p, k, m: edm.sample(model, p, k, m))
    repeats, warmup = (2, 1) if quick else (1, 1)  # a default-size chain is long: one timed run after the compiling one
    ours = time_jitted(chain, params, jax.random.key(2), mask, repeats=repeats, warmup=warmup)
    case = f"sample chain T {timesteps} nf {nf} L {num_layers}, batch {batch_size}" + _layout_suffix(layout)
    notes = f"{timesteps + 1} network calls, ours {ours.median_s / (timesteps + 1) * 1e3:.2f} ms/call"
    setup = _torch_setup(model, params, batch)
    if setup is None:
        return Row("edm", case, ours.median_s, None, "torch (not installed)", ours.compile_s, notes=notes)
    torch, _, dev, diff, tb = setup
    with _torch_precision(torch, dev):
        ref = time_call(lambda: diff.sample(tb["mask"], tb["edge_mask"], model.cfg.feature_dim)[0], repeats=1,
                        warmup=1 if quick else 0)
    return Row("edm", case, ours.median_s, ref.median_s, f"torch no_grad Python loop ({dev})", ours.compile_s,
               notes=notes)


def _layout_row(nf: int, num_layers: int, batch_size: int, quick: bool) -> Row:
    """The whole train step (loss, gradient, Adam) with the EGNN on an edge list of the real pairs against the dense
    masked layout: the same parameters, the same function."""
    batch = molecule_batch(batch_size, seed=2)
    dense, edges = (make_model(nf, num_layers, layout=lay, batch_size=batch_size) for lay in ("dense", "edges"))
    params = edm.init(jax.random.key(0), dense, batch)
    mask = jnp.asarray(batch["mask"])
    x, h, _ = edm.normalize(batch, dense.cfg)
    z, t = jnp.concatenate([x, h], -1), jnp.full((batch_size,), 0.5)
    eps = [jax.jit(lambda p, m=m: m.apply({"params": p}, z, t, mask)[0])(params) for m in (dense, edges)]
    diff = float(jnp.max(jnp.abs(eps[0] - eps[1])))
    repeats, warmup = _repeats(nf, num_layers, quick)
    ours = _time_train_step(edges, params, batch, repeats, warmup)
    ref = _time_train_step(dense, params, batch, repeats, warmup)
    pairs = int(np.sum(batch["mask"].sum(1) * (batch["mask"].sum(1) - 1)))
    budget = int(np.ceil(edges.dynamics.edge_fraction * batch_size * N_ATOMS * (N_ATOMS - 1)))
    return Row("edm", f"train step nf {nf} L {num_layers}, batch {batch_size}: edge list vs dense", ours.median_s,
               ref.median_s, "ours, dense masked layout", ours.compile_s,
               notes=f"{pairs} real pairs in {budget} edge slots vs {batch_size * N_ATOMS**2} dense; max |d eps| {diff:.1e}")


@register("edm")
def bench(quick: bool) -> list[Row]:
    """EDM train step (loss + grad + Adam) and sampling chain vs a PyTorch edge-list EGNN."""
    if quick:
        return [_train_row(16, 2, 4, True), _train_row(16, 2, 4, True, "edges"), _sample_row(16, 2, 4, 10, True),
                _layout_row(16, 2, 4, True)]
    rows = [_train_row(256, 9, 64, False), _train_row(256, 9, 64, False, "edges"), _train_row(64, 4, 64, False),
            _train_row(64, 4, 64, False, "edges"), _sample_row(64, 4, 64, 1000, False),
            _sample_row(64, 4, 64, 1000, False, "edges"), _layout_row(256, 9, 64, False), _layout_row(64, 4, 64, False)]
    if jax.default_backend() == "gpu":
        rows.append(_sample_row(256, 9, 64, 1000, False))
    return rows
