"""Equivariant diffusion of EDM (Hoogeboom et al. 2022): positions on the zero-centre-of-mass subspace, atom
types and charges as scaled continuous features, one Gaussian diffusion over both.

Notation as in the paper: ``z_t = alpha_t [x, h] + sigma_t eps`` with ``alpha_t^2 = sigmoid(-gamma_t)``,
``sigma_t^2 = sigmoid(gamma_t)``, ``SNR(t) = exp(-gamma_t)``; the network predicts ``eps`` (:class:`~jaxsci.edm.egnn.EGNNDynamics`).
A molecule batch is a dict of dense arrays: ``positions (B, N, 3)`` Angstrom, ``one_hot (B, N, K)``, ``charges
(B, N)`` atomic numbers, ``mask (B, N)``, and optionally ``context (B, C)`` (normalised properties).

- :func:`loss`: EDM's training loss, one ``t ~ U{0..T}`` per molecule: the simple L2 on ``eps`` (``loss_type="l2"``,
  the paper's QM9 setting) or the variational bound (``"vlb"``, needed to learn the schedule).
- :func:`nll`: the evaluation estimate of ``-log p(x, h | N)`` in nats: the prior KL, ``T`` times one
  ``t ~ U{1..T}`` term, the ``t = 0`` likelihood (the discretised categorical / integer likelihood of h and the
  Gaussian of x with its ``(N - 1) x 3`` degrees of freedom), minus ``log p(N)`` from the atom-count histogram.
- :func:`sample`: ancestral sampling ``z_T -> z_0 -> (x, h)`` in one ``lax.scan``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxsci.core.nn import torch_uniform
from jaxsci.edm.egnn import EGNNDynamics, remove_mean

SCHEDULES = ("polynomial_<power>", "cosine", "learned")
LOSS_TYPES = ("l2", "vlb")


# --- noise schedules -------------------------------------------------------------------------------------------
def clip_noise_schedule(alphas2: np.ndarray, clip_value: float = 0.001) -> np.ndarray:
    """Clip ``alpha_t^2 / alpha_{t-1}^2`` to ``>= clip_value`` (stabler sampling) and re-accumulate."""
    alphas2 = np.concatenate([np.ones(1), alphas2])
    steps = np.clip(alphas2[1:] / alphas2[:-1], clip_value, 1.0)
    return np.cumprod(steps)


def polynomial_schedule(timesteps: int, s: float = 1e-4, power: float = 2.0) -> np.ndarray:
    """``alpha_t^2`` for t = 0..T: ``(1 - (t / T)^power)^2``, clipped, then ``(1 - 2s) alpha^2 + s`` (the precision)."""
    steps = timesteps + 1
    x = np.linspace(0, steps, steps)
    alphas2 = clip_noise_schedule((1 - np.power(x / steps, power)) ** 2, clip_value=0.001)
    return (1 - 2 * s) * alphas2 + s


def cosine_schedule(timesteps: int, s: float = 0.008) -> np.ndarray:
    """``alpha_t^2`` for t = 0..T of Nichol and Dhariwal's cosine schedule (betas clipped at 0.999)."""
    steps = timesteps + 2
    x = np.linspace(0, steps, steps)
    alphas_cumprod = np.cos(((x / steps) + s) / (1 + s) * np.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    betas = np.clip(1 - alphas_cumprod[1:] / alphas_cumprod[:-1], 0, 0.999)
    return np.cumprod(1.0 - betas)


def gamma_table(schedule: str, timesteps: int, precision: float) -> np.ndarray:
    """``gamma_t = -log(alpha_t^2 / sigma_t^2)`` for t = 0..T of a predefined schedule, ``(T + 1,)``."""
    if schedule == "cosine":
        alphas2 = cosine_schedule(timesteps)
    elif schedule.startswith("polynomial_"):
        alphas2 = polynomial_schedule(timesteps, s=precision, power=float(schedule.split("_", 1)[1]))
    else:
        raise ValueError(f"unknown noise schedule {schedule!r}; choose from {SCHEDULES}")
    return -(np.log(alphas2) - np.log(1.0 - alphas2))


class PositiveDense(nn.Module):
    """``v @ softplus(W) + b``: a linear layer with positive weights (VDM's PositiveLinear; W starts 2 below
    PyTorch's default initialisation)."""

    features: int

    @nn.compact
    def __call__(self, v):
        fan_in = v.shape[-1]
        init = torch_uniform(fan_in)
        w = self.param("kernel", lambda k, s: init(k, s) - 2.0, (fan_in, self.features))
        b = self.param("bias", init, (self.features,))
        return v @ jax.nn.softplus(w) + b


class GammaNetwork(nn.Module):
    """The learned schedule (Kingma et al.'s VDM): a monotonic ``gamma(t)``, ``t (...,)`` in [0, 1], rescaled so
    that ``gamma(0) = gamma_0`` and ``gamma(1) = gamma_1`` (both learned, initialised at -5 and 10)."""

    @nn.compact
    def __call__(self, t):
        l1, l2, l3 = PositiveDense(1, name="l1"), PositiveDense(1024, name="l2"), PositiveDense(1, name="l3")

        def tilde(v):
            a = l1(v)
            return a + l3(jax.nn.sigmoid(l2(a)))

        gamma_0 = self.param("gamma_0", lambda k: jnp.array(-5.0))
        gamma_1 = self.param("gamma_1", lambda k: jnp.array(10.0))
        t = jnp.asarray(t, jnp.float32)[..., None]
        g0, g1, gt = tilde(jnp.zeros_like(t)), tilde(jnp.ones_like(t)), tilde(t)
        return (gamma_0 + (gamma_1 - gamma_0) * (gt - g0) / (g1 - g0))[..., 0]


# --- configuration ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class EDMConfig:
    """The diffusion's settings (the model's are :class:`~jaxsci.edm.egnn.EGNNDynamics`'s).

    ``norm_values``: divide x, the one-hot and the charges by these (the paper's QM9: 1, 4, 10).
    ``include_charges``: diffuse the atomic number as an integer feature. ``num_classes``: atom types K.
    """

    num_classes: int = 5
    include_charges: bool = True
    timesteps: int = 1000
    noise_schedule: str = "polynomial_2"
    noise_precision: float = 1e-5
    loss_type: str = "l2"
    norm_values: tuple[float, float, float] = (1.0, 4.0, 10.0)

    def __post_init__(self):
        if self.loss_type not in LOSS_TYPES:
            raise ValueError(f"unknown loss_type {self.loss_type!r}; choose from {LOSS_TYPES}")
        if self.noise_schedule == "learned":
            if self.loss_type != "vlb":
                raise ValueError("a learned noise schedule needs loss_type='vlb'")
        else:
            gamma_table(self.noise_schedule, 2, self.noise_precision)  # raises for unknown names
        if self.timesteps < 1 or self.num_classes < 1:
            raise ValueError("timesteps and num_classes must be >= 1")
        if self.noise_schedule != "learned":  # the paper's check: 1 / norm_value must exceed 8 sigma_0
            sigma_0 = math.sqrt(1.0 / (1.0 + math.exp(-float(self.gamma_table[0]))))
            if sigma_0 * 8 > 1.0 / max(self.norm_values[1], self.norm_values[2]):
                raise ValueError(f"norm_values {self.norm_values} too large for sigma_0 = {sigma_0:.5f}")

    @property
    def feature_dim(self) -> int:
        """``F = K + include_charges``: h's width."""
        return self.num_classes + int(self.include_charges)

    @property
    def gamma_table(self) -> np.ndarray:
        return gamma_table(self.noise_schedule, self.timesteps, self.noise_precision)


class EDM(nn.Module):
    """The generative model's parameters: the dynamics and, for ``noise_schedule="learned"``, the gamma network.
    ``EDM(cfg, dynamics).init(key, batch)``; :func:`gamma` and :func:`eps_model` read it."""

    cfg: EDMConfig
    dynamics: EGNNDynamics

    def setup(self):
        if self.cfg.noise_schedule == "learned":
            self.gamma_net = GammaNetwork()

    def gamma(self, t):
        if self.cfg.noise_schedule == "learned":
            return self.gamma_net(t)
        table = jnp.asarray(self.cfg.gamma_table, jnp.float32)
        return table[jnp.round(t * self.cfg.timesteps).astype(jnp.int32)]

    def __call__(self, z, t, node_mask, context=None):
        return self.dynamics(z, t, node_mask, context), self.gamma(t)


def init(key: jax.Array, model: EDM, batch: dict) -> Any:
    """Parameters of ``model`` for batches shaped like ``batch`` (only shapes are read)."""
    b, n = batch["mask"].shape
    z = jnp.zeros((b, n, 3 + model.cfg.feature_dim), jnp.float32)
    return model.init(key, z, jnp.zeros((b,)), jnp.asarray(batch["mask"]), batch.get("context"))["params"]


def _gamma(model, params, t):
    return model.apply({"params": params}, t, method=EDM.gamma)


def _eps(model, params, z, t, node_mask, context):
    return model.apply({"params": params}, z, t, node_mask, context)[0]


# --- pieces of the bound ---------------------------------------------------------------------------------------
def sample_position_feature_noise(key: jax.Array, node_mask: jax.Array, feature_dim: int) -> jax.Array:
    """``(B, N, 3 + F)`` noise: zero-centre-of-mass Gaussian on x, standard Gaussian on h, 0 on padding."""
    kx, kh = jax.random.split(key)
    m = node_mask.astype(jnp.float32)[..., None]
    zx = remove_mean(jax.random.normal(kx, node_mask.shape + (3,)) * m, node_mask)
    zh = jax.random.normal(kh, node_mask.shape + (feature_dim,)) * m
    return jnp.concatenate([zx, zh], axis=-1)


def normalize(batch: dict, cfg: EDMConfig) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(x (B, N, 3) centred and scaled, h (B, N, F) = [one_hot / n1, charges / n2], delta_log_px (B,))``; the last
    is the log-volume change of scaling x on its ``(N - 1) x 3``-dimensional subspace."""
    mask = jnp.asarray(batch["mask"]).astype(jnp.float32)
    n_atoms = jnp.sum(mask, axis=1)
    x = remove_mean(jnp.asarray(batch["positions"], jnp.float32), mask) / cfg.norm_values[0]
    h = [jnp.asarray(batch["one_hot"], jnp.float32) / cfg.norm_values[1]]
    if cfg.include_charges:
        h.append(jnp.asarray(batch["charges"], jnp.float32)[..., None] / cfg.norm_values[2])
    h = jnp.concatenate(h, axis=-1) * mask[..., None]
    delta_log_px = -(n_atoms - 1) * 3 * math.log(cfg.norm_values[0])
    return x, h, delta_log_px


def _sigma2(gamma):
    return jax.nn.sigmoid(gamma)


def _alpha2(gamma):
    return jax.nn.sigmoid(-gamma)


def _bcast(a, like):
    return jnp.reshape(a, a.shape + (1,) * (like.ndim - a.ndim))


def kl_prior(xh: jax.Array, node_mask: jax.Array, gamma_T: jax.Array) -> jax.Array:
    """``KL(q(z_T | x, h) || N(0, I))`` per molecule ``(B,)``: x on its ``(N - 1) x 3`` subspace, h per feature."""
    m = node_mask.astype(jnp.float32)
    alpha_T, sigma_T = jnp.sqrt(_alpha2(gamma_T)), jnp.sqrt(_sigma2(gamma_T))
    mu = _bcast(alpha_T, xh) * xh
    mu_x, mu_h = mu[..., :3], mu[..., 3:]
    s = _bcast(sigma_T, mu_h)
    kl_h = jnp.sum((-jnp.log(s) + 0.5 * (s**2 + mu_h**2) - 0.5) * m[..., None], axis=(1, 2))
    d = (jnp.sum(m, 1) - 1) * 3
    kl_x = d * -jnp.log(sigma_T) + 0.5 * (d * sigma_T**2 + jnp.sum(mu_x**2, axis=(1, 2))) - 0.5 * d
    return kl_x + kl_h


def log_constants_p_x_given_z0(node_mask: jax.Array, gamma_0: jax.Array) -> jax.Array:
    """``(B,)``: the normalising constants of ``N(x | z_0 / alpha_0 - ..., sigma_0 / alpha_0)`` on ``(N - 1) x 3`` dims."""
    d = (jnp.sum(node_mask.astype(jnp.float32), 1) - 1) * 3
    return d * (-0.5 * gamma_0 - 0.5 * math.log(2 * math.pi))


def _bin_mass(upper, lower):
    """``Phi(upper) - Phi(lower)`` for ``upper >= lower``, accurate in both tails (``ndtr``, not ``(1 + erf) / 2``,
    whose float32 difference can come out negative far in a tail), never below 0."""
    return jnp.maximum(jax.scipy.special.ndtr(upper) - jax.scipy.special.ndtr(lower), 0.0)


def log_pxh_given_z0_without_constants(h: jax.Array, z0: jax.Array, gamma_0: jax.Array, eps: jax.Array, eps_hat: jax.Array,
                                       node_mask: jax.Array, cfg: EDMConfig, x_error: jax.Array) -> jax.Array:
    """``(B,)``: ``-x_error / 2`` plus the discretised likelihoods of the charges (bins of width 1 around the
    integer) and of the atom type (bins around 1 on each one-hot axis, normalised over the K classes), under
    ``N(z_0 h-part (unnormalised), sigma_0 * norm_value)``."""
    del eps, eps_hat
    m = node_mask.astype(jnp.float32)[..., None]
    sigma_0 = _bcast(jnp.sqrt(_sigma2(gamma_0)), z0)
    k = cfg.num_classes
    z_cat = z0[..., 3:3 + k] * cfg.norm_values[1]
    onehot = h[..., :k] * cfg.norm_values[1]
    log_p = jnp.zeros(z0.shape[0])
    if cfg.include_charges:
        sigma_int = sigma_0 * cfg.norm_values[2]
        centred = jnp.round(h[..., k:k + 1] * cfg.norm_values[2]) - z0[..., k + 3:k + 4] * cfg.norm_values[2]
        p_int = _bin_mass((centred + 0.5) / sigma_int, (centred - 0.5) / sigma_int)
        log_p = log_p + jnp.sum(jnp.log(p_int + 1e-10) * m, axis=(1, 2))
    sigma_cat = sigma_0 * cfg.norm_values[1]
    centred = z_cat - 1.0
    p_cat = _bin_mass((centred + 0.5) / sigma_cat, (centred - 0.5) / sigma_cat)
    log_p_cat = jnp.log(p_cat + 1e-10)
    log_p_cat = log_p_cat - jax.nn.logsumexp(log_p_cat, axis=-1, keepdims=True)
    log_p = log_p + jnp.sum(log_p_cat * onehot * m, axis=(1, 2))
    return -0.5 * x_error + log_p


# --- the training loss and the likelihood ----------------------------------------------------------------------
def _terms(model, params, cfg, x, h, node_mask, context, eps, t_int, *, training):
    """z_t, the network's eps prediction and the pieces of the loss at integer times ``t_int (B,)``, noise ``eps``."""
    b, n = node_mask.shape
    t_int = t_int.astype(jnp.float32)
    s, t = (t_int - 1) / cfg.timesteps, t_int / cfg.timesteps
    gamma_s, gamma_t = _gamma(model, params, s), _gamma(model, params, t)
    xh = jnp.concatenate([x, h], axis=-1)
    z_t = _bcast(jnp.sqrt(_alpha2(gamma_t)), xh) * xh + _bcast(jnp.sqrt(_sigma2(gamma_t)), xh) * eps
    eps_hat = _eps(model, params, z_t, t, node_mask, context)
    sq = (eps - eps_hat) ** 2
    if training and cfg.loss_type == "l2":  # the original divides by (3 + F) * N_padded
        denom = (3 + cfg.feature_dim) * n
        error, error_x = jnp.sum(sq, (1, 2)) / denom, jnp.sum(sq[..., :3], (1, 2)) / denom
    else:
        error, error_x = jnp.sum(sq, (1, 2)), jnp.sum(sq[..., :3], (1, 2))
    return dict(gamma_s=gamma_s, gamma_t=gamma_t, z_t=z_t, eps=eps, eps_hat=eps_hat, error=error, error_x=error_x, xh=xh)


def _check_batch(batch: dict, cfg: EDMConfig) -> None:
    b, n = np.shape(batch["mask"])
    want = {"positions": (b, n, 3), "one_hot": (b, n, cfg.num_classes)}
    if cfg.include_charges:
        want["charges"] = (b, n)
    for name, shape in want.items():
        if name not in batch:
            raise ValueError(f"the molecule batch needs {name!r} {shape}; it has {sorted(batch)}")
        if tuple(np.shape(batch[name])) != shape:
            raise ValueError(f"batch[{name!r}] has shape {tuple(np.shape(batch[name]))}, expected {shape}")


def loss_per_molecule(model: EDM, params, batch: dict, key: jax.Array, *, training: bool = True,
                      t_int: jax.Array | None = None, eps: jax.Array | None = None) -> jax.Array:
    """``(B,)``: EDM's training objective with one ``t ~ U{0..T}`` per molecule (``t = 0`` uses the
    likelihood of (x, h) given z_0); with ``loss_type="l2"`` and ``training`` the simple loss (SNR weight 1, no
    constants), else the unbiased estimate ``(T + 1) L_t`` of the variational bound. ``- log p(N)`` not included.
    ``t_int (B,)`` and ``eps (B, N, 3 + F)`` (zero-mean on x, 0 on padding) replace the draws from ``key``."""
    cfg = model.cfg
    _check_batch(batch, cfg)
    node_mask = jnp.asarray(batch["mask"]).astype(jnp.float32)
    x, h, delta_log_px = normalize(batch, cfg)
    k_t, k_eps = jax.random.split(key) if key is not None else (None, None)
    if t_int is None:
        t_int = jax.random.randint(k_t, (x.shape[0],), 0, cfg.timesteps + 1)
    if eps is None:
        eps = sample_position_feature_noise(k_eps, node_mask, cfg.feature_dim)
    r = _terms(model, params, cfg, x, h, node_mask, batch.get("context"), eps, t_int, training=training)
    simple = training and cfg.loss_type == "l2"
    snr_weight = jnp.ones_like(r["error"]) if simple else jnp.expm1(r["gamma_t"] - r["gamma_s"])
    loss_t = 0.5 * snr_weight * r["error"]
    loss_0 = -log_pxh_given_z0_without_constants(h, r["z_t"], r["gamma_t"], r["eps"], r["eps_hat"], node_mask, cfg,
                                                 r["error_x"])
    is_zero = t_int == 0
    loss_t = jnp.where(is_zero, loss_0, loss_t)
    gamma_T = _gamma(model, params, jnp.ones((x.shape[0],)))
    gamma_0 = _gamma(model, params, jnp.zeros((x.shape[0],)))
    prior = kl_prior(r["xh"], node_mask, gamma_T)
    if simple:
        return prior + loss_t
    return prior + (cfg.timesteps + 1) * loss_t - log_constants_p_x_given_z0(node_mask, gamma_0) - delta_log_px


def nll_per_molecule(model: EDM, params, batch: dict, key: jax.Array, log_pN: jax.Array | None = None, *,
                     t_int: jax.Array | None = None, eps: jax.Array | None = None,
                     eps_0: jax.Array | None = None) -> jax.Array:
    """``(B,)`` nats: the evaluation estimate of ``-log p(x, h, N)``: ``KL prior + T L_t (t ~ U{1..T}) - log Z_0
    - log p(x, h | z_0) - delta_log_px - log p(N)`` (two network calls; ``log_pN (B,)`` from the histogram).
    ``t_int``, ``eps`` (for z_t) and ``eps_0`` (for z_0) replace the draws from ``key``."""
    cfg = model.cfg
    _check_batch(batch, cfg)
    node_mask = jnp.asarray(batch["mask"]).astype(jnp.float32)
    x, h, delta_log_px = normalize(batch, cfg)
    b = x.shape[0]
    k_t, k_eps, k_0 = jax.random.split(key, 3) if key is not None else (None, None, None)
    if t_int is None:
        t_int = jax.random.randint(k_t, (b,), 1, cfg.timesteps + 1)
    if eps is None:
        eps = sample_position_feature_noise(k_eps, node_mask, cfg.feature_dim)
    if eps_0 is None:
        eps_0 = sample_position_feature_noise(k_0, node_mask, cfg.feature_dim)
    r = _terms(model, params, cfg, x, h, node_mask, batch.get("context"), eps, t_int, training=False)
    loss_t = 0.5 * jnp.expm1(r["gamma_t"] - r["gamma_s"]) * r["error"]
    r0 = _terms(model, params, cfg, x, h, node_mask, batch.get("context"), eps_0, jnp.zeros((b,)), training=False)
    loss_0 = -log_pxh_given_z0_without_constants(h, r0["z_t"], r0["gamma_t"], r0["eps"], r0["eps_hat"], node_mask,
                                                 cfg, r0["error_x"])
    gamma_T = _gamma(model, params, jnp.ones((b,)))
    out = (kl_prior(r["xh"], node_mask, gamma_T) + cfg.timesteps * loss_t
           - log_constants_p_x_given_z0(node_mask, r0["gamma_t"]) + loss_0 - delta_log_px)
    return out if log_pN is None else out - log_pN


def nll_estimate(model: EDM, params, batch: dict, key: jax.Array, log_pN: jax.Array | None = None, *,
                 num_draws: int = 1) -> jax.Array:
    """``(B,)`` nats: :func:`nll_per_molecule` averaged over ``num_draws`` independent draws of ``(t, eps, eps_0)``
    (keys ``jax.random.split(key, num_draws)``); the same expectation, ``num_draws`` times less variance."""
    if num_draws < 1:
        raise ValueError(f"num_draws must be >= 1, got {num_draws}")
    keys = jax.random.split(key, num_draws)
    return jnp.mean(jax.lax.map(lambda k: nll_per_molecule(model, params, batch, k, log_pN), keys), axis=0)


def log_p_num_atoms(histogram: np.ndarray | jax.Array, num_atoms: jax.Array) -> jax.Array:
    """``log p(N)`` from atom-count counts ``histogram (N_max + 1,)`` (index = number of atoms)."""
    p = jnp.asarray(histogram, jnp.float32)
    return jnp.log(p[num_atoms] / jnp.sum(p) + 1e-30)


def loss(model: EDM, params, batch: dict, key: jax.Array) -> tuple[jax.Array, dict]:
    """``(mean loss, metrics)`` for :func:`jaxsci.core.gradient_step` (``loss_fn(params, batch, key)`` via partial)."""
    per = loss_per_molecule(model, params, batch, key, training=True)
    return jnp.mean(per), {}


# --- sampling --------------------------------------------------------------------------------------------------
def sample_num_atoms(key: jax.Array, histogram, num_samples: int) -> jax.Array:
    """``(num_samples,)`` atom counts drawn from the training histogram ``(N_max + 1,)``."""
    p = jnp.asarray(histogram, jnp.float32)
    return jax.random.choice(key, p.shape[0], (num_samples,), p=p / jnp.sum(p)).astype(jnp.int32)


def sample(model: EDM, params, key: jax.Array, node_mask: jax.Array, context: jax.Array | None = None,
           *, return_chain: int = 0):
    """Ancestral sampling ``z_T ~ N(0, I) -> ... -> z_0 -> (x, h)`` for the molecules given by ``node_mask (B, N)``.

    Returns ``(positions (B, N, 3) Angstrom (centre of mass 0), atom_types (B, N) int in [0, K), -1 on padding,
    charges (B, N) int)``; with ``return_chain = k > 0`` also ``chain (k, B, N, 3 + F)``, z at k evenly spaced steps.
    The atom type is the argmax of the final ``z_0``'s one-hot part, the charge its rounded integer part.
    """
    return ancestral_sample(lambda z, t: _eps(model, params, z, t, node_mask, context),
                            lambda t: _gamma(model, params, t), model.cfg, key, node_mask, return_chain=return_chain)


def ancestral_sample(eps_fn, gamma_fn, cfg: EDMConfig, key: jax.Array, node_mask: jax.Array, *, return_chain: int = 0):
    """:func:`sample` for any noise predictor ``eps_fn(z (B, N, 3 + F), t (B,)) -> eps_hat`` and schedule
    ``gamma_fn(t (B,)) -> (B,)``: ``z_s ~ N(z_t / alpha_ts - sigma_ts^2 / (alpha_ts sigma_t) eps_hat,
    sigma_ts^2 sigma_s^2 / sigma_t^2)`` for t = T..1, then ``x ~ N((z_0 - sigma_0 eps_hat) / alpha_0, sigma_0 / alpha_0)``."""
    node_mask = jnp.asarray(node_mask).astype(jnp.float32)
    b = node_mask.shape[0]
    k_T, k_steps, k_0 = jax.random.split(key, 3)
    z = sample_position_feature_noise(k_T, node_mask, cfg.feature_dim)
    T = cfg.timesteps

    def step(z, inp):
        s_int, k = inp
        s = jnp.full((b,), s_int / T, jnp.float32)
        t = jnp.full((b,), (s_int + 1) / T, jnp.float32)
        gamma_s, gamma_t = gamma_fn(s), gamma_fn(t)
        sigma2_t_given_s = -jnp.expm1(jax.nn.softplus(gamma_s) - jax.nn.softplus(gamma_t))
        alpha_t_given_s = jnp.exp(0.5 * (jax.nn.log_sigmoid(-gamma_t) - jax.nn.log_sigmoid(-gamma_s)))
        sigma_s, sigma_t = jnp.sqrt(_sigma2(gamma_s)), jnp.sqrt(_sigma2(gamma_t))
        eps_hat = eps_fn(z, t)
        mu = z / _bcast(alpha_t_given_s, z) - _bcast(sigma2_t_given_s / alpha_t_given_s / sigma_t, z) * eps_hat
        sigma = _bcast(jnp.sqrt(sigma2_t_given_s) * sigma_s / sigma_t, z)
        z = mu + sigma * sample_position_feature_noise(k, node_mask, cfg.feature_dim)
        z = jnp.concatenate([remove_mean(z[..., :3], node_mask), z[..., 3:]], axis=-1)
        return z, (z if return_chain else None)

    s_ints = jnp.arange(T - 1, -1, -1)
    z, zs = jax.lax.scan(step, z, (s_ints, jax.random.split(k_steps, T)))

    zeros = jnp.zeros((b,))
    gamma_0 = gamma_fn(zeros)
    eps_hat = eps_fn(z, zeros)
    sigma_x = _bcast(jnp.exp(0.5 * gamma_0), z)  # sigma_0 / alpha_0
    alpha_0, sigma_0 = _bcast(jnp.sqrt(_alpha2(gamma_0)), z), _bcast(jnp.sqrt(_sigma2(gamma_0)), z)
    mu = (z - sigma_0 * eps_hat) / alpha_0
    xh = mu + sigma_x * sample_position_feature_noise(k_0, node_mask, cfg.feature_dim)
    x = remove_mean(xh[..., :3], node_mask) * cfg.norm_values[0]
    k = cfg.num_classes
    mask_i = node_mask > 0
    atom_types = jnp.where(mask_i, jnp.argmax(z[..., 3:3 + k], axis=-1), -1).astype(jnp.int32)
    charges = jnp.round(z[..., 3 + k] * cfg.norm_values[2]).astype(jnp.int32) if cfg.include_charges \
        else jnp.zeros_like(atom_types)
    charges = jnp.where(mask_i, charges, 0)
    if return_chain:
        idx = np.linspace(0, T - 1, return_chain).round().astype(int)
        return x, atom_types, charges, zs[idx]
    return x, atom_types, charges


def node_mask_for(num_atoms: jax.Array, max_atoms: int) -> jax.Array:
    """``(B, max_atoms)`` float mask with the first ``num_atoms[b]`` atoms real."""
    return (jnp.arange(max_atoms)[None, :] < jnp.asarray(num_atoms)[:, None]).astype(jnp.float32)
