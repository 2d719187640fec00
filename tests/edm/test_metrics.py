"""Tests of the EDM molecule metrics: distance-inferred bond orders, stability, RDKit validity/uniqueness/novelty."""

from __future__ import annotations

import importlib.util
import itertools
import os

import numpy as np
import pytest

from jaxsci.edm.metrics import (
    BONDS1,
    BONDS2,
    BONDS3,
    MARGIN1,
    MARGIN2,
    MARGIN3,
    bond_order,
    bond_orders,
    build_molecule,
    mol_to_smiles,
    rdkit_metrics,
    smiles_list,
    stability,
    stability_jax,
)

QM9_ATOMS = ("H", "C", "N", "O", "F")
MANY_ATOMS = ("H", "C", "N", "O", "F", "S", "Cl", "P", "Br")
GEOM_ATOMS = ("H", "B", "C", "N", "O", "F", "Al", "Si", "P", "S", "Cl", "As", "Br", "I", "Hg", "Bi")
TETRA = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=np.float64) / np.sqrt(3.0)

needs_rdkit = pytest.mark.skipif(importlib.util.find_spec("rdkit") is None, reason="rdkit not installed")


def batch(mols, atoms=QM9_ATOMS):
    """Pads [(symbols, positions (n, 3))] to positions (M, N, 3), atom_types (M, N), mask (M, N)."""
    n = max(len(s) for s, _ in mols)
    pos = np.zeros((len(mols), n, 3))
    types = np.zeros((len(mols), n), dtype=np.int64)
    mask = np.zeros((len(mols), n), dtype=bool)
    for i, (symbols, x) in enumerate(mols):
        pos[i, : len(symbols)] = x
        types[i, : len(symbols)] = [atoms.index(s) for s in symbols]
        mask[i, : len(symbols)] = True
    return pos, types, mask


def methane(ch=1.09):
    return ["C", "H", "H", "H", "H"], np.vstack([np.zeros(3), ch * TETRA])


def water():
    a = np.deg2rad(104.5 / 2)
    s, c = 0.96 * np.sin(a), 0.96 * np.cos(a)
    return ["O", "H", "H"], np.array([[0, 0, 0], [s, c, 0], [-s, c, 0]])


def linear(symbols, lengths):
    return list(symbols), np.stack([[x, 0.0, 0.0] for x in np.concatenate([[0.0], np.cumsum(lengths)])])


def formaldehyde():
    a = np.deg2rad(116.0 / 2)
    x = [[0, 0, 0], [0, 1.21, 0], [1.10 * np.sin(a), -1.10 * np.cos(a), 0], [-1.10 * np.sin(a), -1.10 * np.cos(a), 0]]
    return ["C", "O", "H", "H"], np.array(x)


def benzene(sides=(1.34, 1.54), ch=1.09):
    """Equiangular C6 ring with side lengths alternating ``sides``, H on the exterior bisectors."""
    steps = [sides[i % 2] * np.array([np.cos(np.pi * i / 3), np.sin(np.pi * i / 3), 0.0]) for i in range(6)]
    ring = np.cumsum([np.zeros(3)] + steps[:-1], axis=0)
    hs = []
    for i in range(6):
        u = ring[i] - ring[i - 1]
        v = ring[i] - ring[(i + 1) % 6]
        b = u / np.linalg.norm(u) + v / np.linalg.norm(v)
        hs.append(ring[i] + ch * b / np.linalg.norm(b))
    return ["C"] * 6 + ["H"] * 6, np.vstack([ring, np.array(hs)])


def ethane(drop_h=False):
    s, c = np.sqrt(8.0) / 3.0, 1.0 / 3.0
    c1, c2 = np.zeros(3), np.array([0.0, 0.0, 1.54])
    h1 = [c1 + 1.09 * np.array([s * np.cos(p), s * np.sin(p), -c]) for p in np.deg2rad([0, 120, 240])]
    h2 = [c2 + 1.09 * np.array([s * np.cos(p), s * np.sin(p), c]) for p in np.deg2rad([60, 180, 300])]
    hs = h1 + h2[: 2 if drop_h else 3]
    return ["C", "C"] + ["H"] * len(hs), np.vstack([c1, c2, *hs])


def with_h(smiles):
    """Canonical SMILES with explicit H atoms, as EDM writes molecules whose H atoms are graph nodes."""
    from rdkit import Chem

    return Chem.MolToSmiles(Chem.AddHs(Chem.MolFromSmiles(smiles)))


def stab(mol, atoms=QM9_ATOMS, **kw):
    return stability(*batch([mol], atoms), atoms, **kw)


# ---------------------------------------------------------------- bond orders


def test_scalar_thresholds():
    assert bond_order("C", "C", 1.54) == 1
    assert bond_order("C", "C", 1.64) == 0  # 164 pm = single + margin, strict <
    assert bond_order("C", "C", 1.6399) == 1
    assert bond_order("C", "C", 1.34) == 2
    assert bond_order("C", "C", 1.39) == 1  # 139 pm = double + margin exactly: not a double bond
    assert bond_order("C", "C", 1.3899) == 2
    assert bond_order("C", "C", 1.20) == 3
    assert bond_order("C", "C", 1.23) == 2
    assert bond_order("C", "N", 1.16) == 3
    assert bond_order("H", "H", 0.5) == 1
    assert bond_order("N", "N", 1.0, limit_bonds_to_one=True) == 1
    assert bond_order("C", "Hg", 1.0, check_exists=True) == 0
    with pytest.raises(ValueError, match="check_exists"):
        bond_order("C", "Hg", 1.0)


@pytest.mark.parametrize("atoms,kw", [(MANY_ATOMS, {}), (GEOM_ATOMS, {"check_exists": True}),
                                      (GEOM_ATOMS, {"limit_bonds_to_one": True})])  # fmt: skip
def test_vectorised_matches_scalar_random(atoms, kw):
    rng = np.random.default_rng(0)
    m, n = 40, 9
    pos = rng.uniform(0.0, 1.8, (m, n, 3))
    types = rng.integers(0, len(atoms), (m, n))
    mask = rng.random((m, n)) < 0.85
    got = bond_orders(pos, types, mask, atoms, chunk_size=7, **kw)
    assert got.dtype == np.int8 and got.shape == (m, n, n)
    seen = set()
    for b in range(m):
        for i in range(n):
            for j in range(n):
                if i == j or not (mask[b, i] and mask[b, j]):
                    assert got[b, i, j] == 0
                    continue
                dx, dy, dz = pos[b, i] - pos[b, j]
                ref = bond_order(atoms[types[b, i]], atoms[types[b, j]], np.sqrt(dx * dx + dy * dy + dz * dz), **kw)
                assert got[b, i, j] == ref, (b, i, j)
                seen.add(ref)
    assert seen == ({0, 1} if kw.get("limit_bonds_to_one") else {0, 1, 2, 3})


@pytest.mark.parametrize("kw", [{}, {"limit_bonds_to_one": True}])
def test_vectorised_matches_scalar_at_thresholds(kw):
    """Two-atom molecules on the x axis exactly at, just below and just above every threshold of every pair."""
    atoms = MANY_ATOMS
    cases = []
    for (a, b), table, margin in itertools.chain(
        ((p, BONDS1, MARGIN1) for p in BONDS1),
        ((p, BONDS2, MARGIN2) for p in BONDS2),
        ((p, BONDS3, MARGIN3) for p in BONDS3),
    ):
        if a in atoms and b in atoms:
            t = (table[a, b] + margin) / 100.0
            cases += [(a, b, d) for d in (t, np.nextafter(t, 0), np.nextafter(t, 9), t - 1e-9, t + 1e-9)]
    pos = np.zeros((len(cases), 2, 3))
    pos[:, 1, 0] = [d for _, _, d in cases]
    types = np.array([[atoms.index(a), atoms.index(b)] for a, b, _ in cases])
    got = bond_orders(pos, types, np.ones(types.shape, bool), atoms, **kw)
    ref = np.array([bond_order(a, b, d, **kw) for a, b, d in cases])
    np.testing.assert_array_equal(got[:, 0, 1], ref)
    np.testing.assert_array_equal(got[:, 1, 0], ref)
    assert {0, 1, 2, 3} <= set(ref.tolist()) or kw


def test_input_errors():
    pos, types, mask = batch([methane()])
    with pytest.raises(ValueError, match="atom_types"):
        bond_orders(pos, types[:, :3], mask, QM9_ATOMS)
    with pytest.raises(ValueError, match="mask"):
        stability(pos, types, mask[:, :3], QM9_ATOMS)
    with pytest.raises(ValueError, match="positions"):
        bond_orders(pos[..., :2], types, mask, QM9_ATOMS)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        bond_orders(pos, types, mask, ("H",))
    with pytest.raises(ValueError, match="single-bond length"):
        bond_orders(pos, types, mask, ("H", "C", "Hg"))
    with pytest.raises(ValueError, match=r"\('N', 'Si'\)"):
        bond_orders(pos, types, mask, ("H", "C", "N", "Si"))
    with pytest.raises(ValueError, match="allowed valence"):
        stability(pos, types, mask, ("H", "C", "Xe"), check_exists=True)
    assert stability(pos, types, mask, ("H", "C", "Hg"), check_exists=True)["mol_stable"] == 1.0


# ---------------------------------------------------------------- stability


@pytest.mark.parametrize(
    "mol",
    [methane(), water(), benzene(), ethane(), formaldehyde(), linear("HCCH", [1.06, 1.20, 1.06]),
     linear("HCN", [1.06, 1.16]), linear("OCO", [1.17, 1.17])],
    ids=["methane", "water", "kekule_benzene", "ethane", "formaldehyde", "acetylene", "HCN", "CO2"],
)  # fmt: skip
def test_stable_molecules(mol):
    out = stab(mol)
    assert out["mol_stable"] == 1.0 and out["atom_stable"] == 1.0
    assert out["mol_stable_per_mol"].tolist() == [True]


def test_bond_orders_of_hand_made_molecules():
    assert bond_orders(*batch([linear("HCCH", [1.06, 1.20, 1.06])]), QM9_ATOMS)[0, 1, 2] == 3
    assert bond_orders(*batch([linear("HCN", [1.06, 1.16])]), QM9_ATOMS)[0, 1, 2] == 3
    assert bond_orders(*batch([linear("OCO", [1.17, 1.17])]), QM9_ATOMS)[0, 0, 1] == 2
    assert bond_orders(*batch([formaldehyde()]), QM9_ATOMS)[0, 0, 1] == 2
    orders = bond_orders(*batch([benzene()]), QM9_ATOMS)[0]
    assert orders[:6, :6].sum(1).tolist() == [3] * 6 and orders[:6, 6:].sum(1).tolist() == [1] * 6


def test_aromatic_benzene_is_unstable():
    """A regular ring has all C-C bonds alike, so the distance tables cannot produce a Kekule pattern.

    The C=C threshold is 134 + 5 = 139 pm with strict <, so 1.39 A is a single bond (bond_order("C", "C", 1.39) == 1)
    and a ring at 1.40 A gives every C the valence 1 + 1 + 1 (H) = 3: unstable, as in the original code.
    Below 1.39 A every C-C becomes double and each C gets 2 + 2 + 1 = 5: unstable as well.
    """
    for side, valence in [(1.40, 3), (1.38, 5)]:
        out = stab(benzene(sides=(side, side)))
        assert out["mol_stable"] == 0.0
        assert out["valence"][0, :6].tolist() == [valence] * 6
        assert out["n_stable_atoms_per_mol"].tolist() == [6]


def test_unstable_molecules():
    symbols, x = methane()
    x = x.copy()
    x[1] *= 2.5 / 1.09
    out = stab((symbols, x))
    assert out["mol_stable"] == 0.0 and out["atom_stable"] == pytest.approx(3 / 5)
    assert out["valence"][0].tolist() == [3, 0, 1, 1, 1]

    symbols, x = methane()
    out = stab((symbols + ["C"], np.vstack([x, np.zeros(3)])))
    assert out["mol_stable"] == 0.0 and out["atom_stable"] == 0.0

    for lone in ("C", "H", "O"):
        assert stab(([lone], np.zeros((1, 3))))["atom_stable"] == 0.0

    out = stab(ethane(drop_h=True))
    assert out["mol_stable"] == 0.0
    assert out["valence"][0, :2].tolist() == [4, 3]
    assert out["n_stable_atoms_per_mol"].tolist() == [6]

    co = stab(linear("OCO", [1.16, 1.16]))
    assert co["valence"][0].tolist() == [3, 6, 3]  # 100 * 1.16 = 115.999... < 113 + 3: triple


def test_batch_aggregation_padding_and_chunks():
    mols = [methane(), water(), ethane(drop_h=True), benzene(sides=(1.40, 1.40)), linear("HCN", [1.06, 1.16])]
    pos, types, mask = batch(mols)
    pos[~mask] = 0.0
    pos, types, mask = (np.concatenate([a, np.zeros_like(a[:1])]) for a in (pos, types, mask))
    out = stability(pos, types, mask, QM9_ATOMS)
    assert out["mol_stable_per_mol"].tolist() == [True, True, False, False, True, False]
    n_atoms = [5, 3, 7, 12, 3, 0]
    n_stable = [5, 3, 6, 6, 3, 0]
    assert out["n_atoms_per_mol"].tolist() == n_atoms and out["n_stable_atoms_per_mol"].tolist() == n_stable
    assert out["atom_stable"] == pytest.approx(sum(n_stable) / sum(n_atoms))
    assert out["mol_stable"] == pytest.approx(3 / 6)
    np.testing.assert_allclose(out["atom_stable_per_mol"], [1, 1, 6 / 7, 0.5, 1, 0])
    small = stability(pos, types, mask, QM9_ATOMS, chunk_size=2)
    for k in ("mol_stable_per_mol", "n_stable_atoms_per_mol", "valence"):
        np.testing.assert_array_equal(small[k], out[k])
    orders = bond_orders(pos, types, mask, QM9_ATOMS)
    assert (orders == orders.transpose(0, 2, 1)).all() and not orders[~mask].any()


# ---------------------------------------------------------------- RDKit


@needs_rdkit
def test_rdkit_smiles_of_hand_made_molecules():
    expected = {
        "C": methane(), "O": water(), "c1ccccc1": benzene(), "CC": ethane(), "C=O": formaldehyde(),
        "C#C": linear("HCCH", [1.06, 1.20, 1.06]), "C#N": linear("HCN", [1.06, 1.16]),
        "O=C=O": linear("OCO", [1.17, 1.17]),
    }  # fmt: skip
    for smiles, (symbols, x) in expected.items():
        mol = build_molecule(x, np.array([QM9_ATOMS.index(s) for s in symbols]), QM9_ATOMS)
        assert mol.GetNumAtoms() == len(symbols)
        assert mol_to_smiles(mol) == with_h(smiles)


@needs_rdkit
def test_rdkit_validity_verdicts():
    symbols, x = methane()
    pulled = x.copy()
    pulled[1] *= 2.5 / 1.09
    mols = [
        methane(),
        (symbols + ["C"], np.vstack([x, np.zeros(3)])),  # overlapping C atoms: valence 7
        linear("OCO", [1.16, 1.16]),  # triple bonds: C valence 6
        (symbols + ["H"], np.vstack([x, -1.09 * TETRA[:1]])),  # CH5: C valence 5
        ethane(drop_h=True),  # radical: RDKit adds an implicit H, so valid
        (symbols, pulled),  # CH3 + H: largest fragment CH3 (with an implicit H)
        (["C"], np.zeros((1, 3))),  # lone C: implicit Hs, valid
    ]
    radical = "[H]C([H])C([H])([H])[H]"  # RDKit adds an implicit H to the radical C
    assert smiles_list(*batch(mols), QM9_ATOMS) == [with_h("C"), None, None, None, radical, "[H]C([H])[H]", "C"]


@needs_rdkit
def test_rdkit_largest_fragment():
    w_symbols, w_x = water()
    e_symbols, e_x = ethane()
    mol = (w_symbols + e_symbols, np.vstack([w_x, e_x + 10.0]))
    assert smiles_list(*batch([mol]), QM9_ATOMS) == [with_h("CC")]
    assert smiles_list(*batch([mol]), QM9_ATOMS, largest_fragment=False) == [with_h("CC.O")]


@needs_rdkit
def test_rdkit_metrics_uniqueness_novelty():
    symbols, x = methane()
    rot = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    mols = [methane(), (symbols, x @ rot.T + 3.0), water(), (symbols + ["C"], np.vstack([x, np.zeros(3)]))]
    out = rdkit_metrics(*batch(mols), QM9_ATOMS, train_smiles={with_h("C"), with_h("CC")})
    assert out["smiles"] == [with_h("C"), with_h("C"), with_h("O")]
    assert out["validity"] == pytest.approx(3 / 4)
    assert out["uniqueness"] == pytest.approx(2 / 3)
    assert out["novelty"] == pytest.approx(1 / 2)
    assert out["valid_and_unique"] == pytest.approx(0.5)
    assert rdkit_metrics(*batch(mols), QM9_ATOMS)["novelty"] is None
    bad = rdkit_metrics(*batch(mols[3:]), QM9_ATOMS, train_smiles=set())
    assert (bad["validity"], bad["uniqueness"], bad["novelty"], bad["smiles"]) == (0.0, 0.0, 0.0, [])


# ---------------------------------------------------------------- QM9 "Data" row


def qm9_csv_path(part=1):
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(spec.submodule_search_locations[0], "data", f"qm9_part{part}.csv")
    return path if os.path.exists(path) else None


@pytest.mark.skipif(qm9_csv_path() is None, reason="qm9pack data not installed")
def test_qm9_data_row_subset_and_the_jax_version():
    from jaxsci.edm.data import read_qm9_csv

    rows = read_qm9_csv(qm9_csv_path(), max_rows=2000)
    pos, types = rows["positions"].astype(np.float64), rows["atom_types"].astype(np.int64)
    mask = types >= 0
    out = stability(pos, types, mask, QM9_ATOMS)
    assert out["atom_stable"] > 0.98
    assert out["mol_stable"] > 0.90
    by_index = {int(idx): k for k, idx in enumerate(rows["gdb9_id"])}
    for idx in (1, 2, 3, 4, 5, 6, 7):  # CH4, NH3, H2O, C2H2, HCN, H2CO, C2H6
        assert out["mol_stable_per_mol"][by_index[idx]], idx
    benzene_row = by_index[214]
    assert rows["smiles"][benzene_row] == "C1=CC=CC=C1"
    assert not out["mol_stable_per_mol"][benzene_row]  # DFT C-C ~1.39 A: aromatic ring, no Kekule pattern
    fast = stability_jax(pos.astype(np.float32), types, mask, QM9_ATOMS)
    np.testing.assert_allclose([fast["atom_stable"], fast["mol_stable"]], [out["atom_stable"], out["mol_stable"]], atol=1e-6)
