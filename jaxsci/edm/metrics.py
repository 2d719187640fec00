"""Molecule metrics of EDM (Hoogeboom et al. 2022): stability and RDKit validity, uniqueness, novelty.

Bond orders are inferred from interatomic distances with the bond-length tables of the original code
(``qm9/bond_analyze.py``): with ``d`` in pm, order 0 if ``d >= single + 10``, else 3 if the pair has a triple length
and ``d < triple + 3`` (and ``d < double + 5``), else 2 if the pair has a double length and ``d < double + 5``, else 1.
An atom is stable when the sum of its bond orders is an allowed valence; a molecule when all its atoms are.

Batched inputs everywhere: ``positions`` (M, N, 3) in Angstrom, ``atom_types`` (M, N) int indices into ``atoms``
(a tuple of element symbols), ``mask`` (M, N) bool marking the real atoms.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "BONDS1",
    "BONDS2",
    "BONDS3",
    "MARGIN1",
    "MARGIN2",
    "MARGIN3",
    "ALLOWED_BONDS",
    "bond_order",
    "bond_orders",
    "stability",
    "stability_jax",
    "build_molecule",
    "mol_to_smiles",
    "smiles_list",
    "rdkit_metrics",
]

# Typical bond lengths in pm, from the EDM code (wiredchemist.com and chemistry-reference.com tables).
_SINGLE_PM: dict[tuple[str, str], int] = {
    ("H", "H"): 74, ("H", "C"): 109, ("H", "N"): 101, ("H", "O"): 96, ("H", "F"): 92, ("H", "B"): 119,
    ("H", "Si"): 148, ("H", "P"): 144, ("H", "As"): 152, ("H", "S"): 134, ("H", "Cl"): 127, ("H", "Br"): 141,
    ("H", "I"): 161,
    ("C", "C"): 154, ("C", "N"): 147, ("C", "O"): 143, ("C", "F"): 135, ("C", "Si"): 185, ("C", "P"): 184,
    ("C", "S"): 182, ("C", "Cl"): 177, ("C", "Br"): 194, ("C", "I"): 214,
    ("N", "N"): 145, ("N", "O"): 140, ("N", "F"): 136, ("N", "Cl"): 175, ("N", "Br"): 214, ("N", "S"): 168,
    ("N", "I"): 222, ("N", "P"): 177,
    ("O", "O"): 148, ("O", "F"): 142, ("O", "Br"): 172, ("O", "S"): 151, ("O", "P"): 163, ("O", "Si"): 163,
    ("O", "Cl"): 164, ("O", "I"): 194,
    ("F", "F"): 142, ("F", "S"): 158, ("F", "Si"): 160, ("F", "Cl"): 166, ("F", "Br"): 178, ("F", "P"): 156,
    ("F", "I"): 187,
    ("B", "Cl"): 175,
    ("Si", "Si"): 233, ("Si", "S"): 200, ("Si", "Cl"): 202, ("Si", "Br"): 215, ("Si", "I"): 243,
    ("Cl", "Cl"): 199, ("Cl", "P"): 203, ("Cl", "S"): 207, ("Cl", "Br"): 214,
    ("S", "S"): 204, ("S", "Br"): 225, ("S", "P"): 210, ("S", "I"): 234,
    ("Br", "Br"): 228, ("Br", "P"): 222,
    ("P", "P"): 221,
    ("I", "I"): 266,
}
_DOUBLE_PM: dict[tuple[str, str], int] = {
    ("C", "C"): 134, ("C", "N"): 129, ("C", "O"): 120, ("C", "S"): 160,
    ("N", "N"): 125, ("N", "O"): 121,
    ("O", "O"): 121, ("O", "P"): 150,
    ("P", "S"): 186,
}
_TRIPLE_PM: dict[tuple[str, str], int] = {
    ("C", "C"): 120, ("C", "N"): 116, ("C", "O"): 113,
    ("N", "N"): 110,
}


def _symmetric(table: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    return {**table, **{(b, a): v for (a, b), v in table.items()}}


BONDS1 = _symmetric(_SINGLE_PM)
BONDS2 = _symmetric(_DOUBLE_PM)
BONDS3 = _symmetric(_TRIPLE_PM)
MARGIN1, MARGIN2, MARGIN3 = 10, 5, 3
ALLOWED_BONDS: dict[str, tuple[int, ...]] = {
    "H": (1,), "C": (4,), "N": (3,), "O": (2,), "F": (1,), "B": (3,), "Al": (3,), "Si": (4,), "P": (3, 5),
    "S": (4,), "Cl": (1,), "As": (3,), "Br": (1,), "I": (1,), "Hg": (1, 2), "Bi": (3, 5),
}  # fmt: skip

_CHUNK_PAIRS = 1 << 17


def bond_order(
    atom1: str, atom2: str, distance: float, *, limit_bonds_to_one: bool = False, check_exists: bool = False
) -> int:
    """Bond order (0-3) of two elements at ``distance`` Angstrom; the scalar reference.

    ``check_exists`` returns 0 for a pair without a single-bond length instead of raising ValueError;
    ``limit_bonds_to_one`` (GEOM) implies it and maps every order > 0 to 1.
    """
    pair = (atom1, atom2)
    if pair not in BONDS1:
        if check_exists or limit_bonds_to_one:
            return 0
        raise ValueError(f"no single-bond length for the pair {pair}; pass check_exists=True to treat it as no bond")
    d = 100.0 * float(distance)
    if d >= BONDS1[pair] + MARGIN1:
        return 0
    order = 1
    if pair in BONDS2 and d < BONDS2[pair] + MARGIN2:
        order = 2
        if pair in BONDS3 and d < BONDS3[pair] + MARGIN3:
            order = 3
    return 1 if limit_bonds_to_one else order


def _threshold_tables(
    atoms: Sequence[str], *, limit_bonds_to_one: bool, check_exists: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(K, K) float64 thresholds in pm for orders 1, 2, 3; -inf where the order is impossible."""
    k = len(atoms)
    t1, t2, t3 = (np.full((k, k), -np.inf) for _ in range(3))
    missing = []
    for i, a in enumerate(atoms):
        for j, b in enumerate(atoms):
            pair = (a, b)
            if pair not in BONDS1:
                missing.append(pair)
                continue
            t1[i, j] = BONDS1[pair] + MARGIN1
            if limit_bonds_to_one:
                continue
            if pair in BONDS2:
                t2[i, j] = BONDS2[pair] + MARGIN2
                if pair in BONDS3:
                    t3[i, j] = BONDS3[pair] + MARGIN3
    if missing and not (check_exists or limit_bonds_to_one):
        shown = sorted({tuple(sorted(p)) for p in missing})
        raise ValueError(
            f"no single-bond length for the pairs {shown} of atoms={tuple(atoms)}; "
            "pass check_exists=True (or limit_bonds_to_one=True) to treat them as no bond"
        )
    return t1, t2, t3


def _check_inputs(positions, atom_types, mask, atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    positions = np.asarray(positions)
    atom_types = np.asarray(atom_types)
    mask = np.asarray(mask, dtype=bool)
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise ValueError(f"positions must have shape (M, N, 3), got {positions.shape}")
    if atom_types.shape != positions.shape[:2]:
        raise ValueError(f"atom_types must have shape {positions.shape[:2]} (M, N), got {atom_types.shape}")
    if mask.shape != positions.shape[:2]:
        raise ValueError(f"mask must have shape {positions.shape[:2]} (M, N), got {mask.shape}")
    if not np.issubdtype(atom_types.dtype, np.integer):
        raise ValueError(f"atom_types must be integers indexing atoms, got dtype {atom_types.dtype}")
    if len(atoms) == 0:
        raise ValueError("atoms must name at least one element")
    real = atom_types[mask]
    if real.size and (real.min() < 0 or real.max() >= len(atoms)):
        raise ValueError(f"atom_types of real atoms must lie in [0, {len(atoms)}), got [{real.min()}, {real.max()}]")
    return positions, atom_types, mask


def _iter_bond_orders(
    positions: np.ndarray, atom_types: np.ndarray, mask: np.ndarray, tables, chunk_size: int | None
) -> Iterator[tuple[slice, np.ndarray]]:
    """Yields (molecule slice, (m, N, N) int8 bond orders) chunk by chunk."""
    t1, t2, t3 = tables
    m, n = atom_types.shape
    if chunk_size is None:
        chunk_size = max(1, _CHUNK_PAIRS // max(1, n * n))
    eye = np.eye(n, dtype=bool)
    for start in range(0, m, chunk_size):
        sl = slice(start, min(m, start + chunk_size))
        x = positions[sl].astype(np.float64)
        types = np.where(mask[sl], atom_types[sl], 0)
        diff = x[:, :, None, :] - x[:, None, :, :]
        d = 100.0 * np.sqrt(diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1] + diff[..., 2] * diff[..., 2])
        ti, tj = types[:, :, None], types[:, None, :]
        b1 = d < t1[ti, tj]
        b2 = b1 & (d < t2[ti, tj])
        b3 = b2 & (d < t3[ti, tj])
        orders = b1.astype(np.int8) + b2 + b3
        valid = mask[sl][:, :, None] & mask[sl][:, None, :] & ~eye
        yield sl, np.where(valid, orders, np.int8(0)).astype(np.int8)


def bond_orders(
    positions,
    atom_types,
    mask,
    atoms: Sequence[str],
    *,
    limit_bonds_to_one: bool = False,
    check_exists: bool = False,
    chunk_size: int | None = None,
) -> np.ndarray:
    """(M, N, N) int8 bond orders inferred from distances; 0 on the diagonal and for padding atoms.

    positions (M, N, 3) Angstrom, atom_types (M, N) int into ``atoms``, mask (M, N) bool. Options as ``bond_order``.
    """
    positions, atom_types, mask = _check_inputs(positions, atom_types, mask, atoms)
    tables = _threshold_tables(atoms, limit_bonds_to_one=limit_bonds_to_one, check_exists=check_exists)
    m, n = atom_types.shape
    out = np.zeros((m, n, n), dtype=np.int8)
    for sl, orders in _iter_bond_orders(positions, atom_types, mask, tables, chunk_size):
        out[sl] = orders
    return out


def _allowed_table(atoms: Sequence[str], max_valence: int) -> np.ndarray:
    missing = [a for a in atoms if a not in ALLOWED_BONDS]
    if missing:
        raise ValueError(f"no allowed valence for the elements {missing}; known: {sorted(ALLOWED_BONDS)}")
    table = np.zeros((len(atoms), max_valence + 2), dtype=bool)
    for i, a in enumerate(atoms):
        table[i, list(ALLOWED_BONDS[a])] = True
    return table


def stability(
    positions,
    atom_types,
    mask,
    atoms: Sequence[str],
    *,
    limit_bonds_to_one: bool = False,
    check_exists: bool = False,
    chunk_size: int | None = None,
) -> dict:
    """Atom and molecule stability of a batch (EDM Table 1).

    Returns {"atom_stable": stable atoms / atoms over the batch, "mol_stable": stable molecules / molecules,
    "atom_stable_per_mol": (M,) float fraction of stable atoms, "mol_stable_per_mol": (M,) bool,
    "n_stable_atoms_per_mol": (M,) int, "n_atoms_per_mol": (M,) int, "valence": (M, N) int sum of bond orders}.
    A molecule without atoms counts as unstable. The original evaluates GEOM stability with
    ``check_exists=True, limit_bonds_to_one=False`` and GEOM validity with ``limit_bonds_to_one=True``.
    """
    positions, atom_types, mask = _check_inputs(positions, atom_types, mask, atoms)
    tables = _threshold_tables(atoms, limit_bonds_to_one=limit_bonds_to_one, check_exists=check_exists)
    max_valence = max(max(v) for v in ALLOWED_BONDS.values())
    allowed = _allowed_table(atoms, max_valence)
    m, n = atom_types.shape
    valence = np.zeros((m, n), dtype=np.int64)
    for sl, orders in _iter_bond_orders(positions, atom_types, mask, tables, chunk_size):
        valence[sl] = orders.sum(axis=-1, dtype=np.int64)
    types = np.where(mask, atom_types, 0)
    atom_ok = allowed[types, np.minimum(valence, max_valence + 1)] & mask
    n_atoms = mask.sum(axis=1)
    n_stable = atom_ok.sum(axis=1)
    mol_ok = (n_stable == n_atoms) & (n_atoms > 0)
    total = int(n_atoms.sum())
    return {
        "atom_stable": float(n_stable.sum() / total) if total else 0.0,
        "mol_stable": float(mol_ok.mean()) if m else 0.0,
        "atom_stable_per_mol": np.where(n_atoms > 0, n_stable / np.maximum(n_atoms, 1), 0.0),
        "mol_stable_per_mol": mol_ok,
        "n_stable_atoms_per_mol": n_stable,
        "n_atoms_per_mol": n_atoms,
        "valence": valence,
    }


def stability_jax(positions, atom_types, mask, atoms: Sequence[str]) -> dict:
    """:func:`stability` (QM9 rules) in JAX, for use inside ``jit`` (e.g. the training loop's evaluation of sampled
    molecules): ``{"atom_stable": (), "mol_stable": ()}`` fractions as float32 arrays, distances in float32 (a
    distance within ~1e-5 pm of a threshold may round the other way than in :func:`stability`'s float64)."""
    import jax.numpy as jnp

    t1, t2, t3 = (jnp.asarray(t, jnp.float32) for t in _threshold_tables(atoms, limit_bonds_to_one=False, check_exists=False))
    max_valence = max(max(v) for v in ALLOWED_BONDS.values())
    allowed = jnp.asarray(_allowed_table(atoms, max_valence))
    mask = jnp.asarray(mask).astype(bool)
    types = jnp.where(mask, jnp.asarray(atom_types), 0)
    x = jnp.asarray(positions, jnp.float32)
    d = 100.0 * jnp.sqrt(jnp.sum((x[:, :, None, :] - x[:, None, :, :]) ** 2, axis=-1))
    ti, tj = types[:, :, None], types[:, None, :]
    b1 = d < t1[ti, tj]
    b2 = b1 & (d < t2[ti, tj])
    b3 = b2 & (d < t3[ti, tj])
    n = mask.shape[1]
    valid = mask[:, :, None] & mask[:, None, :] & ~jnp.eye(n, dtype=bool)
    valence = jnp.sum(jnp.where(valid, b1.astype(jnp.int32) + b2 + b3, 0), axis=-1)
    atom_ok = allowed[types, jnp.minimum(valence, max_valence + 1)] & mask
    n_atoms, n_stable = jnp.sum(mask, 1), jnp.sum(atom_ok, 1)
    mol_ok = (n_stable == n_atoms) & (n_atoms > 0)
    return {"atom_stable": jnp.sum(n_stable) / jnp.maximum(jnp.sum(n_atoms), 1), "mol_stable": jnp.mean(mol_ok.astype(jnp.float32))}


def _chem():
    try:
        from rdkit import Chem
    except ImportError as e:
        raise ImportError("RDKit is needed for the validity metrics: `pip install rdkit`") from e
    return Chem


def _mol_from_orders(symbols: Sequence[str], orders: np.ndarray):
    Chem = _chem()
    bond_types = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
    mol = Chem.RWMol()
    for s in symbols:
        mol.AddAtom(Chem.Atom(s))
    for i, j in zip(*np.nonzero(np.triu(orders, k=1))):
        mol.AddBond(int(i), int(j), bond_types[int(orders[i, j])])
    return mol


def build_molecule(
    positions, atom_types, atoms: Sequence[str], *, limit_bonds_to_one: bool = False, check_exists: bool = False
):
    """RDKit RWMol of one molecule, positions (n, 3) Angstrom, atom_types (n,) int, bonds from ``bond_orders``."""
    positions = np.asarray(positions)
    atom_types = np.asarray(atom_types)
    if positions.ndim != 2 or positions.shape[-1] != 3 or atom_types.shape != positions.shape[:1]:
        raise ValueError(f"expected positions (n, 3) and atom_types (n,), got {positions.shape} and {atom_types.shape}")
    _chem()
    orders = bond_orders(
        positions[None], atom_types[None], np.ones((1, len(atom_types)), dtype=bool), atoms,
        limit_bonds_to_one=limit_bonds_to_one, check_exists=check_exists,
    )[0]  # fmt: skip
    return _mol_from_orders([atoms[t] for t in atom_types], orders)


def mol_to_smiles(mol) -> str | None:
    """Canonical SMILES after ``Chem.SanitizeMol`` (in place); None if sanitization fails."""
    Chem = _chem()
    try:
        Chem.SanitizeMol(mol)
    except ValueError:
        return None
    return Chem.MolToSmiles(mol)


def _largest_fragment_smiles(mol) -> str | None:
    Chem = _chem()
    if mol_to_smiles(mol) is None:
        return None
    frags = Chem.GetMolFrags(mol, asMols=True)
    return mol_to_smiles(max(frags, default=mol, key=lambda f: f.GetNumAtoms()))


def smiles_list(
    positions,
    atom_types,
    mask,
    atoms: Sequence[str],
    *,
    largest_fragment: bool = True,
    limit_bonds_to_one: bool = False,
    check_exists: bool = False,
    chunk_size: int | None = None,
) -> list[str | None]:
    """(M,) canonical SMILES of the molecules built from inferred bonds (largest fragment); None where invalid."""
    _chem()
    from rdkit import rdBase

    positions, atom_types, mask = _check_inputs(positions, atom_types, mask, atoms)
    tables = _threshold_tables(atoms, limit_bonds_to_one=limit_bonds_to_one, check_exists=check_exists)
    out: list[str | None] = []
    with rdBase.BlockLogs():
        for sl, orders in _iter_bond_orders(positions, atom_types, mask, tables, chunk_size):
            for types, msk, mol_orders in zip(atom_types[sl], mask[sl], orders):
                idx = np.flatnonzero(msk)
                mol = _mol_from_orders([atoms[t] for t in types[idx]], mol_orders[np.ix_(idx, idx)])
                out.append(_largest_fragment_smiles(mol) if largest_fragment else mol_to_smiles(mol))
    return out


def rdkit_metrics(
    positions,
    atom_types,
    mask,
    atoms: Sequence[str],
    train_smiles: set[str] | None = None,
    **kw,
) -> dict:
    """EDM validity, uniqueness and novelty of a batch (M, N, ...) via RDKit.

    validity = valid / generated; uniqueness = distinct valid SMILES / valid; novelty = unique SMILES not in
    ``train_smiles`` / unique (None without ``train_smiles``); valid_and_unique = validity * uniqueness.
    "smiles" lists the valid SMILES in input order. ``kw`` goes to ``smiles_list``.
    """
    all_smiles = smiles_list(positions, atom_types, mask, atoms, **kw)
    valid = [s for s in all_smiles if s is not None]
    unique = set(valid)
    validity = len(valid) / len(all_smiles) if all_smiles else 0.0
    uniqueness = len(unique) / len(valid) if valid else 0.0
    novelty = None
    if train_smiles is not None:
        novelty = sum(s not in train_smiles for s in unique) / len(unique) if unique else 0.0
    return {
        "validity": validity,
        "uniqueness": uniqueness,
        "novelty": novelty,
        "valid_and_unique": validity * uniqueness,
        "smiles": valid,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m jaxsci.edm.metrics [--split all] [--rdkit N]``: EDM's "Data" row, the metrics of QM9 itself."""
    import argparse
    import time

    from jaxsci.edm import data

    parser = argparse.ArgumentParser(prog="python -m jaxsci.edm.metrics", description=main.__doc__)
    parser.add_argument("--split", default="all", choices=data.QM9_SPLITS)
    parser.add_argument("--rdkit", type=int, default=10_000, help="RDKit validity of the first N molecules (0: skip)")
    parser.add_argument("--cache", default=None, help="QM9 cache directory")
    args = parser.parse_args(argv)
    mols = data.load_qm9(args.cache, split=args.split)
    types = np.where(mols.mask, mols.atom_types, 0)
    t0 = time.perf_counter()
    s = stability(mols.positions, types, mols.mask, mols.atoms)
    print(f"QM9 {args.split}: {len(mols)} molecules, atom stable {100 * s['atom_stable']:.2f} %, "
          f"molecule stable {100 * s['mol_stable']:.2f} % ({time.perf_counter() - t0:.1f} s; paper: 99.0 / 95.2)")
    if args.rdkit:
        sub = mols.take(np.arange(min(args.rdkit, len(mols))))
        r = rdkit_metrics(sub.positions, np.where(sub.mask, sub.atom_types, 0), sub.mask, sub.atoms)
        print(f"first {len(sub)}: valid {100 * r['validity']:.2f} %, unique among valid {100 * r['uniqueness']:.2f} %")


if __name__ == "__main__":
    main()
