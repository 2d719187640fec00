"""What the PIPS terminal cost sees of alanine dipeptide's (phi, psi) plane (a measurement, not a test).

The terminal cost phi(x) = terminal_scale * exp(mean_ij (D_ij(x) - D_ij(target))^2) depends on x only through
the RMS pairwise-distance error. This prints that error (pm) on a 30-degree grid of (phi, psi) set by rigid
rotations of the minimised start (no relaxation), and the terminal-cost gap between a few points, so one can see
where the cost funnels the paths and where it is flat.

Command: ``python tests/pips/measure_terminal_landscape.py [terminal_scale]`` (~10 s on a CPU; numbers in RESULTS.md).
"""

from __future__ import annotations

import sys

import jax.numpy as jnp
import numpy as np

from jaxsci.pips import molecules
from jaxsci.pips.pice import pairwise_distances


def rms_distance_error(built, phi_psi_deg) -> float:
    """RMS of D(x) - D(target) (nm) for the start with its (phi, psi) rigidly set to ``phi_psi_deg``."""
    bonds = molecules._bonds(built.molecule)
    x = molecules._with_phi_psi(built.molecule, bonds, np.asarray(built.system.start, np.float64), phi_psi_deg)
    d = pairwise_distances(jnp.asarray(x)) - pairwise_distances(jnp.asarray(built.system.target, jnp.float32))
    return float(jnp.sqrt(jnp.mean(d**2)))


def main(scale: float = 1000.0) -> None:
    built = molecules.alanine_dipeptide(None)
    start, target = np.rad2deg(built.start_cv), np.rad2deg(built.target_cv)
    print(f"start (phi, psi) = {start.round(1)} deg, target {target.round(1)} deg")
    grid = np.arange(-180.0, 180.0, 30.0)
    print("RMS pairwise-distance error to the target (pm); rows psi, columns phi")
    print("psi \\ phi " + " ".join(f"{p:6.0f}" for p in grid))
    for psi in grid[::-1]:
        print(f"{psi:9.0f} " + " ".join(f"{1000 * rms_distance_error(built, (phi, psi)):6.1f}" for phi in grid))
    points = {"start": tuple(start), "trap (-60, -30)": (-60.0, -30.0), "phi = 0 at psi -30": (0.0, -30.0),
              "target cv, rigid": tuple(target)}
    errors = {name: rms_distance_error(built, p) for name, p in points.items()}
    base = errors["target cv, rigid"]
    for name, e in errors.items():
        gap = scale * (np.exp(e**2) - np.exp(base**2))
        print(f"{name:20s} error {1000 * e:5.1f} pm; terminal cost above the rigid target point at scale {scale:g}: {gap:.2f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1000.0)
