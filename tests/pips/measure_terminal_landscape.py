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
from jaxsci.pips.pice import pairwise_distances, terminal_cost


def main(scale: float = 1000.0) -> None:
    built = molecules.alanine_dipeptide(None)
    mol, bonds = built.molecule, molecules._bonds(built.molecule)
    start_x = np.asarray(built.system.start, np.float64)
    target_x = jnp.asarray(built.system.target, jnp.float32)
    target_d = pairwise_distances(target_x)

    def configuration(phi_psi_deg):
        """The minimised start with its (phi, psi) rigidly set to ``phi_psi_deg``, ``(N, 3)`` nm."""
        return jnp.asarray(molecules._with_phi_psi(mol, bonds, start_x, phi_psi_deg), jnp.float32)

    def rms_error_pm(x):
        return 1000 * float(jnp.sqrt(jnp.mean((pairwise_distances(x) - target_d) ** 2)))

    start, target = np.rad2deg(built.start_cv), np.rad2deg(built.target_cv)
    print(f"start (phi, psi) = {start.round(1)} deg, target {target.round(1)} deg")
    grid = np.arange(-180.0, 180.0, 30.0)
    print("RMS pairwise-distance error to the target (pm); rows psi, columns phi")
    print("psi \\ phi " + " ".join(f"{p:6.0f}" for p in grid))
    for psi in grid[::-1]:
        print(f"{psi:9.0f} " + " ".join(f"{rms_error_pm(configuration((phi, psi))):6.1f}" for phi in grid))
    points = {"start": tuple(start), "trap (-60, -30)": (-60.0, -30.0), "phi = 0 at psi -30": (0.0, -30.0),
              "target cv, rigid": tuple(target)}
    xs = {name: configuration(p) for name, p in points.items()}
    base = float(terminal_cost(xs["target cv, rigid"], target_x, scale))
    for name, x in xs.items():
        gap = float(terminal_cost(x, target_x, scale)) - base
        print(f"{name:20s} error {rms_error_pm(x):5.1f} pm; terminal cost above the rigid target point at scale {scale:g}: {gap:.2f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1000.0)
