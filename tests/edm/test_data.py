"""Tests for jaxsci.edm.data: EDM's QM9 split, the qm9pack parser and cache, the XYZ/SDF readers, Molecules."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from jaxsci.edm import data as D

HAVE_QM9PACK = importlib.util.find_spec("qm9pack") is not None
needs_qm9pack = pytest.mark.skipif(not HAVE_QM9PACK, reason="qm9pack not installed (pip install qm9pack)")
DATA = os.path.join(os.path.dirname(__file__), "data")
CDK2_SDF = os.path.join(DATA, "cdk2_first2.sdf")

# EDM's configs/datasets_config.py: atom-count and atom-type histograms of its train split and of qm9_second_half.
EDM_TRAIN_N_NODES = {22: 3393, 17: 13025, 23: 4848, 21: 9970, 19: 13832, 20: 9482, 16: 10644, 13: 3060, 15: 7796,
                     25: 1506, 18: 13364, 12: 1689, 11: 807, 24: 539, 14: 5136, 26: 48, 7: 16, 10: 362, 8: 49, 9: 124,
                     27: 266, 4: 4, 29: 25, 6: 9, 5: 5, 3: 1}  # fmt: skip
EDM_TRAIN_ATOM_TYPES = {1: 635559, 2: 101476, 0: 923537, 3: 140202, 4: 2323}
EDM_SECOND_HALF_N_NODES = {19: 6944, 12: 845, 20: 4794, 21: 4962, 27: 132, 25: 754, 18: 6695, 14: 2587, 15: 3865,
                           22: 1701, 17: 6461, 16: 5344, 23: 2380, 13: 1541, 24: 267, 10: 178, 7: 7, 11: 412, 8: 25,
                           9: 62, 29: 15, 26: 17, 4: 3, 3: 1, 6: 5, 5: 3}  # fmt: skip
EDM_SECOND_HALF_ATOM_TYPES = {1: 317604, 2: 50852, 3: 70033, 0: 461622, 4: 1164}


def _histogram_dict(counts: np.ndarray) -> dict[int, int]:
    return {k: int(v) for k, v in enumerate(counts) if v}


def _atom_range(mols: D.Molecules) -> tuple[int, int]:
    nonzero = np.nonzero(D.atom_histogram(mols))[0]
    return int(nonzero.min()), int(nonzero.max())


# --- split ---------------------------------------------------------------------------------------------------------


def test_random_state_matches_global_seed():
    state = np.random.get_state()
    try:
        np.random.seed(0)
        expected = np.random.permutation(D.QM9_NUM_MOLECULES)
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(np.random.RandomState(0).permutation(D.QM9_NUM_MOLECULES), expected)


def test_split_sizes_disjoint_and_covering():
    s = D.qm9_split_indices()
    assert set(s) == set(D.QM9_SPLITS)
    assert [len(s[k]) for k in ("train", "valid", "test")] == [100000, 17748, 13083]
    joined = np.concatenate([s["train"], s["valid"], s["test"]])
    np.testing.assert_array_equal(np.sort(joined), np.arange(D.QM9_NUM_MOLECULES))
    np.testing.assert_array_equal(s["all"], np.arange(D.QM9_NUM_MOLECULES))
    perm = np.random.RandomState(0).permutation(D.QM9_NUM_MOLECULES)
    np.testing.assert_array_equal(s["train"], np.sort(perm[:100000]))
    np.testing.assert_array_equal(s["test"], np.sort(perm[117748:]))


def test_halves_partition_train():
    s = D.qm9_split_indices()
    first, second = s["train_first_half"], s["train_second_half"]
    assert len(first) == len(second) == 50000
    assert not np.intersect1d(first, second).size
    np.testing.assert_array_equal(np.sort(np.concatenate([first, second])), s["train"])
    fixed_perm = np.random.RandomState(42).permutation(100000)
    np.testing.assert_array_equal(second, s["train"][fixed_perm[50000:]])


def test_split_rejects_too_few_molecules():
    with pytest.raises(ValueError, match="needs more than"):
        D.qm9_split_indices(1000)


# --- qm9pack parsing -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_rows():
    return D.read_qm9_csv(os.path.join(D.qm9_data_dir(), "qm9_part1.csv"), max_rows=25)


@needs_qm9pack
def test_parse_methane_and_water(first_rows):
    r = first_rows
    assert len(r["gdb9_id"]) == 25 and list(r["gdb9_id"][:3]) == [1, 2, 3]
    assert np.all(np.diff(r["gdb9_id"]) > 0)
    assert r["num_atoms"][0] == 5 and r["smiles"][0] == "C"
    assert [D.QM9_ATOMS[t] for t in r["atom_types"][0] if t >= 0] == ["C", "H", "H", "H", "H"]
    ch = np.linalg.norm(r["positions"][0, 1:5] - r["positions"][0, 0], axis=-1)
    np.testing.assert_allclose(ch, 1.09, atol=0.01)
    assert np.all(r["positions"][0, 5:] == 0) and np.all(r["atom_types"][0, 5:] == -1)
    np.testing.assert_allclose(r["homo"][0], -0.3877 * 27.2114)
    assert round(float(r["homo"][0]), 2) == -10.55
    np.testing.assert_allclose([r["mu"][0], r["alpha"][0], r["Cv"][0]], [0.0, 13.21, 6.469])
    np.testing.assert_allclose(r["gap"][0], 0.5048 * 27.2114)
    assert r["num_atoms"][2] == 3 and r["smiles"][2] == "O"
    assert [D.QM9_ATOMS[t] for t in r["atom_types"][2] if t >= 0] == ["O", "H", "H"]
    oh = np.linalg.norm(r["positions"][2, 1:3] - r["positions"][2, 0], axis=-1)
    np.testing.assert_allclose(oh, 0.96, atol=0.01)
    np.testing.assert_allclose(r["mu"][2], 1.8511, atol=0.01)


@needs_qm9pack
def test_parse_non_json_coordinates(first_rows):
    acetylene = first_rows["positions"][3, :4]
    np.testing.assert_allclose(acetylene[:, 1:], [[0.0, 1.0]] * 4)


# --- load_qm9 on a tiny fake qm9pack -------------------------------------------------------------------------------

_HEADER = (
    "XYZ_file,Index,SMILES,N_atoms,Elements,XYZ_Ang,Dipole_debye,Polarizability_bohr3,HOMO_au,LUMO_au,"
    "HOMO_LUMO_gap_au,Heatcapacity_Cv_cal_mol_K\n"
)
_ROWS = {
    "qm9_part1.csv": ['"a",1,"C",2,"[\'C\',\'H\']","[[0.,0.,0.],[1.09,0.,0.]]",0.1,13.2,-0.3877,0.1171,0.5048,6.4\n'],
    "qm9_part2.csv": [
        '"b",3,"O",3,"[\'O\',\'H\',\'H\']","[[0,0,0],[0.96,0,0],[0,0.96,0]]",1.8,6.3,-0.28,0.04,0.32,6.0\n'
    ],
    "qm9_part3.csv": ['"c",2,"N",1,"[\'N\']","[[1.0,2.0,3.0]]",1.5,9.4,-0.25,0.08,0.33,6.3\n'],
}


@pytest.fixture
def fake_qm9pack(tmp_path, monkeypatch):
    src = tmp_path / "qm9pack_data"
    src.mkdir()
    for name, rows in _ROWS.items():
        (src / name).write_text(_HEADER + "".join(rows))
    monkeypatch.setattr(D, "qm9_data_dir", lambda: str(src))
    monkeypatch.setattr(D, "qm9_split_indices", lambda n: {k: np.array([2, 0]) for k in D.QM9_SPLITS})
    return tmp_path / "cache"


def test_load_qm9_fake_builds_cache_once(fake_qm9pack, monkeypatch):
    mols = D.load_qm9(str(fake_qm9pack), split="all")
    assert os.listdir(fake_qm9pack) == ["qm9_edm_v1.npz"]
    np.testing.assert_array_equal(mols.ids, [3, 1])
    assert mols.smiles == ("O", "C")
    assert mols.positions.shape == (2, 29, 3) and mols.atoms == D.QM9_ATOMS
    np.testing.assert_array_equal(mols.num_atoms, [3, 2])
    np.testing.assert_array_equal(mols.charges[:, :3], [[8, 1, 1], [6, 1, 0]])
    np.testing.assert_allclose(mols.properties["homo"], [-0.28 * 27.2114, -0.3877 * 27.2114])
    np.testing.assert_array_equal(mols.properties["n_atoms"], [3, 2])
    assert set(mols.properties) == {*D.QM9_PROPERTIES, "n_atoms"}
    monkeypatch.setattr(D, "build_qm9_cache", lambda *a: pytest.fail("cache rebuilt"))
    again = D.load_qm9(str(fake_qm9pack), split="test")
    np.testing.assert_array_equal(again.positions, mols.positions)


def test_load_qm9_cache_env_var(fake_qm9pack, monkeypatch):
    monkeypatch.setenv("JAXSCI_CACHE", str(fake_qm9pack))
    assert len(D.load_qm9(split="train")) == 2
    assert os.path.exists(fake_qm9pack / "qm9_edm_v1.npz")


def test_load_qm9_unknown_split():
    with pytest.raises(ValueError, match="train_second_half"):
        D.load_qm9(split="training")


def test_missing_qm9pack_message(monkeypatch, tmp_path):
    monkeypatch.setattr(D.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install qm9pack"):
        D.load_qm9(str(tmp_path), split="train")


def test_malformed_qm9_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(_HEADER + _ROWS["qm9_part1.csv"][0].replace('"C",2,', '"C",3,'))
    with pytest.raises(ValueError, match=r"bad\.csv:2: .*N_atoms=3"):
        D.read_qm9_csv(path)


@pytest.mark.slow
@needs_qm9pack
def test_full_qm9_cache_matches_edm(tmp_path):
    """Builds the real cache (about 10 s) and checks EDM's published train / second-half histograms."""
    cache = str(tmp_path)
    everything = D.load_qm9(cache, split="all")
    assert len(everything) == 130831 and everything.positions.shape == (130831, 29, 3)
    assert np.all(np.diff(everything.ids) > 0) and everything.ids[-1] == 133885
    assert 58 not in set(everything.ids[:100].tolist())
    assert _atom_range(everything) == (3, 29)
    train = D.load_qm9(cache, split="train")
    assert _histogram_dict(D.atom_histogram(train)) == EDM_TRAIN_N_NODES
    assert _histogram_dict(train.one_hot(np.int64).sum((0, 1))) == EDM_TRAIN_ATOM_TYPES
    second = D.load_qm9(cache, split="train_second_half")
    assert _histogram_dict(D.atom_histogram(second)) == EDM_SECOND_HALF_N_NODES
    assert _histogram_dict(second.one_hot(np.int64).sum((0, 1))) == EDM_SECOND_HALF_ATOM_TYPES
    first = D.load_qm9(cache, split="train_first_half")
    assert not np.intersect1d(first.ids, second.ids).size
    assert sum(len(D.load_qm9(cache, split=s)) for s in ("valid", "test")) == 30831
    assert np.isfinite(np.stack(list(everything.properties.values()))).all()


# --- XYZ / SDF -----------------------------------------------------------------------------------------------------


@needs_qm9pack
def test_xyz_roundtrip_qm9_molecule(first_rows, tmp_path):
    frames = []
    for i in (0, 2, 5):
        n = int(first_rows["num_atoms"][i])
        frames.append(([D.QM9_ATOMS[t] for t in first_rows["atom_types"][i, :n]], first_rows["positions"][i, :n]))
    text = "".join(
        f"{len(s)}\ngdb {i}\n" + "".join(f"{e} {x:.10f}\t{y:.10f} {z:.10f} 0.1\n" for e, (x, y, z) in zip(s, p))
        for i, (s, p) in enumerate(frames)
    )
    path = tmp_path / "qm9.xyz"
    path.write_text(text + "\n")
    read = D.read_xyz(path)
    assert [r[0] for r in read] == [tuple(s) for s, _ in frames]
    for (_, p), (_, q) in zip(read, frames):
        np.testing.assert_allclose(p, q, atol=1e-6)


def test_read_xyz_formats(tmp_path):
    path = tmp_path / "a.xyz"
    path.write_text("2\n\n6 0 0 8.3963*^-6\ncl 1 2 3\n")
    (symbols, pos), = D.read_xyz(path)
    assert symbols == ("C", "Cl")
    np.testing.assert_allclose(pos, [[0, 0, 8.3963e-6], [1, 2, 3]])


@pytest.mark.parametrize(
    "text, match",
    [
        ("3\ncomment\nC 0 0 0\nH 1 0 0\n", r"a\.xyz:1: frame declares 3 atoms"),
        ("two\ncomment\nC 0 0 0\n", r"a\.xyz:1: expected an atom count"),
        ("2\ncomment\nC 0 0 0\nH 1 x 0\n", r"a\.xyz:4: bad atom line"),
        ("1\ncomment\nC 0 0\n", r"a\.xyz:3: bad atom line"),
        ("1\ncomment\nXq 0 0 0\n", r"a\.xyz:3: .*unknown element"),
    ],
)
def test_read_xyz_malformed(tmp_path, text, match):
    path = tmp_path / "a.xyz"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        D.read_xyz(path)


def test_read_sdf_matches_rdkit():
    chem = pytest.importorskip("rdkit.Chem")
    records = D.read_sdf(CDK2_SDF)
    reference = list(chem.SDMolSupplier(CDK2_SDF, removeHs=False))
    assert len(records) == len(reference) == 2
    for (symbols, pos), mol in zip(records, reference):
        assert symbols == tuple(a.GetSymbol() for a in mol.GetAtoms())
        np.testing.assert_allclose(pos, mol.GetConformer().GetPositions(), atol=1e-4)
    heavy = D.read_sdf(CDK2_SDF, remove_h=True)
    assert [len(s) for s, _ in heavy] == [m.GetNumHeavyAtoms() for m in reference]
    assert "H" not in heavy[0][0]


def test_read_sdf_known_values():
    (symbols, pos), _ = D.read_sdf(CDK2_SDF)
    assert len(symbols) == 30 and symbols.count("H") == 13
    np.testing.assert_allclose(pos[0], [5.4230, -0.4412, 0.7616])


def _sdf_lines() -> list[str]:
    with open(CDK2_SDF) as f:
        return f.read().splitlines()[:88]


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda ls: ls[:20], r"x\.sdf:4: counts line declares 30 atoms"),
        (lambda ls: ls[:3] + ["abc def"] + ls[4:], r"x\.sdf:4: bad counts line"),
        (lambda ls: ls[:4] + [ls[4].replace("-0.4412", "-0.4x12")] + ls[5:], r"x\.sdf:5: bad atom line.*non-numeric"),
        (lambda ls: ls[:3] + ["  0  0  0     0  0            999 V3000"] + ls[4:], r"x\.sdf:4: V3000 .*unsupported"),
        (lambda ls: ls[:2], r"x\.sdf:1: record ends before its counts line"),
    ],
)
def test_read_sdf_malformed(tmp_path, edit, match):
    path = tmp_path / "x.sdf"
    path.write_text("\n".join(edit(_sdf_lines())) + "\n")
    with pytest.raises(ValueError, match=match):
        D.read_sdf(path)


# --- Molecules / molecules_from ------------------------------------------------------------------------------------


def _structures():
    water = (("O", "H", "H"), np.array([[0, 0, 0], [0.96, 0, 0], [0, 0.96, 0]]))
    hf = (("F", "H"), np.array([[0, 0, 0], [0.92, 0, 0]]))
    return [water, hf]


def test_molecules_from_padding_and_masks():
    mols = D.molecules_from(_structures())
    assert mols.atoms == ("H", "O", "F") and len(mols) == 2
    assert mols.positions.shape == (2, 3, 3) and mols.positions.dtype == np.float32
    np.testing.assert_array_equal(mols.mask, [[1, 1, 1], [1, 1, 0]])
    np.testing.assert_array_equal(mols.atom_types, [[1, 0, 0], [2, 0, -1]])
    np.testing.assert_array_equal(mols.charges, [[8, 1, 1], [9, 1, 0]])
    np.testing.assert_array_equal(mols.num_atoms, [3, 2])
    assert mols.one_hot().shape == (2, 3, 3) and mols.one_hot()[1, 2].sum() == 0
    np.testing.assert_array_equal(mols.one_hot(np.int32).sum((0, 1)), [3, 1, 1])
    np.testing.assert_array_equal(D.atom_histogram(mols), [0, 0, 1, 1])
    padded = D.molecules_from(_structures(), atoms=D.QM9_ATOMS, max_atoms=D.QM9_MAX_ATOMS)
    assert padded.positions.shape == (2, 29, 3) and np.all(padded.positions[:, 3:] == 0)
    np.testing.assert_array_equal(padded.atom_types[0, :3], [3, 0, 0])
    assert D.atom_histogram(padded).shape == (30,)


def test_molecules_from_errors():
    with pytest.raises(ValueError, match=r"\['F'\] not in atoms"):
        D.molecules_from(_structures(), atoms=("H", "O"))
    with pytest.raises(ValueError, match="more than max_atoms=2"):
        D.molecules_from(_structures(), max_atoms=2)
    with pytest.raises(ValueError, match="does not match 2 symbols"):
        D.molecules_from([(("H", "H"), np.zeros((3, 3)))])


def test_molecules_take():
    mols = D.molecules_from(_structures())
    mols = D.Molecules(mols.positions, mols.atom_types, mols.mask, mols.atoms, {"e": np.array([1.0, 2.0])},
                       smiles=("O", "F"), ids=np.array([10, 20]))  # fmt: skip
    sub = mols.take([1])
    assert len(sub) == 1 and sub.positions.shape == (1, 3, 3) and sub.smiles == ("F",)
    assert sub.properties["e"].tolist() == [2.0] and sub.ids.tolist() == [20]
    assert mols.take(np.array([False, True])).smiles == ("F",)


def test_molecules_validation():
    pos, types = np.zeros((2, 3, 3)), np.array([[0, 0, -1], [1, -1, -1]])
    mask, atoms = types >= 0, ("H", "C")
    D.Molecules(pos, types, mask, atoms)
    with pytest.raises(ValueError, match=r"positions must have shape \(M, N, 3\)"):
        D.Molecules(np.zeros((2, 3)), types, mask, atoms)
    with pytest.raises(ValueError, match="atom_types must have shape"):
        D.Molecules(pos, types[:, :2], mask, atoms)
    with pytest.raises(ValueError, match="mask must have shape"):
        D.Molecules(pos, types, mask[:1], atoms)
    with pytest.raises(ValueError, match="-1 exactly where mask is False"):
        D.Molecules(pos, types, np.ones_like(mask), atoms)
    with pytest.raises(ValueError, match="< len\\(atoms\\) = 1"):
        D.Molecules(pos, types, mask, ("H",))
    with pytest.raises(ValueError, match="property 'mu' must have shape"):
        D.Molecules(pos, types, mask, atoms, {"mu": np.zeros(3)})
    with pytest.raises(ValueError, match="smiles must have 2 entries"):
        D.Molecules(pos, types, mask, atoms, smiles=("C",))
    with pytest.raises(ValueError, match="unknown element symbol 'Xx'"):
        D.Molecules(pos, types, mask, ("H", "Xx"))
