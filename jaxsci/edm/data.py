"""QM9 as used by EDM (Hoogeboom et al. 2022), offline from the ``qm9pack`` wheel, plus XYZ/SDF readers.

QM9 here is GDB9's 133,885 molecules minus the 3,054 "uncharacterized" ones (130,831), sorted by GDB9 index, with
EDM's train/valid/test split (100,000 / 17,748 / 13,083) and its two halves of the train split used for conditional
generation (the generative model trains on the second half, the property classifier on the first).
Positions are in Angstrom and not centred; properties use EDM's units (mu: Debye, alpha: bohr^3, homo/lumo/gap: eV,
Cv: cal/mol/K).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib.util
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

QM9_ATOMS = ("H", "C", "N", "O", "F")
QM9_CHARGES = (1, 6, 7, 8, 9)
QM9_PROPERTIES = ("mu", "alpha", "homo", "lumo", "gap", "Cv")
QM9_NUM_MOLECULES = 130831
QM9_MAX_ATOMS = 29
QM9_SPLITS = ("all", "train", "valid", "test", "train_first_half", "train_second_half")
HARTREE_TO_EV = 27.2114

_QM9_COLUMNS = {
    "mu": ("Dipole_debye", 1.0),
    "alpha": ("Polarizability_bohr3", 1.0),
    "homo": ("HOMO_au", HARTREE_TO_EV),
    "lumo": ("LUMO_au", HARTREE_TO_EV),
    "gap": ("HOMO_LUMO_gap_au", HARTREE_TO_EV),
    "Cv": ("Heatcapacity_Cv_cal_mol_K", 1.0),
}
_QM9_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
_CACHE_NAME = "qm9_edm_v1.npz"
_log = logging.getLogger(__name__)

ELEMENTS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se Br Kr Rb Sr Y Zr Nb "
    "Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au "
    "Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts "
    "Og"
).split()
ATOMIC_NUMBERS = {symbol: z for z, symbol in enumerate(ELEMENTS, start=1)}

Structure = tuple[tuple[str, ...], np.ndarray]


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol (``"C"`` -> 6); ValueError if unknown."""
    try:
        return ATOMIC_NUMBERS[symbol]
    except KeyError:
        raise ValueError(f"unknown element symbol {symbol!r}") from None


@dataclasses.dataclass(frozen=True)
class Molecules:
    """A padded batch of M molecules with at most N atoms each.

    positions: (M, N, 3) float32, Angstrom, zero on padding, not centred.
    atom_types: (M, N) int32 indices into ``atoms``, -1 on padding.
    mask: (M, N) bool, True on real atoms.
    atoms: element symbols that ``atom_types`` refers to.
    properties: name -> (M,) float64.
    smiles: M SMILES strings, or None.
    ids: (M,) int64 source identifiers (GDB9 index for QM9), or None.
    """

    positions: np.ndarray
    atom_types: np.ndarray
    mask: np.ndarray
    atoms: tuple[str, ...]
    properties: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    smiles: tuple[str, ...] | None = None
    ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        def set_(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        set_("positions", np.asarray(self.positions, dtype=np.float32))
        set_("atom_types", np.asarray(self.atom_types, dtype=np.int32))
        set_("mask", np.asarray(self.mask, dtype=bool))
        set_("atoms", tuple(self.atoms))
        if self.positions.ndim != 3 or self.positions.shape[-1] != 3:
            raise ValueError(f"positions must have shape (M, N, 3), got {self.positions.shape}")
        shape = self.positions.shape[:2]
        for name in ("atom_types", "mask"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have shape {shape} (from positions), got {getattr(self, name).shape}")
        for symbol in self.atoms:
            atomic_number(symbol)
        if np.any(self.mask != (self.atom_types >= 0)):
            raise ValueError("atom_types must be -1 exactly where mask is False")
        if np.any(self.atom_types >= len(self.atoms)):
            raise ValueError(f"atom_types must be < len(atoms) = {len(self.atoms)}, got max {self.atom_types.max()}")
        properties = {k: np.asarray(v, dtype=np.float64) for k, v in self.properties.items()}
        for k, v in properties.items():
            if v.shape != shape[:1]:
                raise ValueError(f"property {k!r} must have shape {shape[:1]}, got {v.shape}")
        set_("properties", properties)
        if self.smiles is not None:
            set_("smiles", tuple(str(s) for s in self.smiles))
            if len(self.smiles) != shape[0]:
                raise ValueError(f"smiles must have {shape[0]} entries, got {len(self.smiles)}")
        if self.ids is not None:
            set_("ids", np.asarray(self.ids, dtype=np.int64))
            if self.ids.shape != shape[:1]:
                raise ValueError(f"ids must have shape {shape[:1]}, got {self.ids.shape}")

    def __len__(self) -> int:
        return self.positions.shape[0]

    @property
    def num_atoms(self) -> np.ndarray:
        """(M,) int32 number of real atoms per molecule."""
        return self.mask.sum(axis=1).astype(np.int32)

    @property
    def charges(self) -> np.ndarray:
        """(M, N) int32 atomic numbers, 0 on padding."""
        table = np.array([atomic_number(s) for s in self.atoms] + [0], dtype=np.int32)
        return table[self.atom_types]

    def one_hot(self, dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """(M, N, K) one-hot atom types over ``atoms`` (K = len(atoms)), zero on padding."""
        return (self.atom_types[..., None] == np.arange(len(self.atoms))).astype(dtype)

    def take(self, indices: Sequence[int] | np.ndarray) -> Molecules:
        """The molecules at ``indices`` (int array or bool mask over M), with the same padding N."""
        idx = np.arange(len(self))[np.asarray(indices)]
        return Molecules(
            positions=self.positions[idx],
            atom_types=self.atom_types[idx],
            mask=self.mask[idx],
            atoms=self.atoms,
            properties={k: v[idx] for k, v in self.properties.items()},
            smiles=None if self.smiles is None else tuple(self.smiles[i] for i in idx),
            ids=None if self.ids is None else self.ids[idx],
        )


def molecules_from(
    structures: Iterable[Structure], atoms: tuple[str, ...] | None = None, max_atoms: int | None = None
) -> Molecules:
    """Pad a list of (symbols, (n, 3) positions) into a Molecules with N = max_atoms (default: the largest n).

    ``atoms=None`` uses the elements present, sorted by atomic number.
    """
    structures = [(tuple(symbols), np.asarray(pos, dtype=np.float32)) for symbols, pos in structures]
    for i, (symbols, pos) in enumerate(structures):
        if pos.shape != (len(symbols), 3):
            raise ValueError(f"structure {i}: positions shape {pos.shape} does not match {len(symbols)} symbols")
    if atoms is None:
        atoms = tuple(sorted({s for symbols, _ in structures for s in symbols}, key=atomic_number))
    atoms = tuple(atoms)
    index = {s: k for k, s in enumerate(atoms)}
    largest = max((len(symbols) for symbols, _ in structures), default=0)
    if max_atoms is None:
        max_atoms = largest
    elif largest > max_atoms:
        raise ValueError(f"a structure has {largest} atoms, more than max_atoms={max_atoms}")
    positions = np.zeros((len(structures), max_atoms, 3), np.float32)
    atom_types = np.full((len(structures), max_atoms), -1, np.int32)
    for i, (symbols, pos) in enumerate(structures):
        unknown = sorted(set(symbols) - index.keys())
        if unknown:
            raise ValueError(f"structure {i}: element(s) {unknown} not in atoms {atoms}")
        positions[i, : len(symbols)] = pos
        atom_types[i, : len(symbols)] = [index[s] for s in symbols]
    return Molecules(positions=positions, atom_types=atom_types, mask=atom_types >= 0, atoms=atoms)


def atom_histogram(molecules: Molecules) -> np.ndarray:
    """(N + 1,) int64 counts of molecules by number of atoms, N the padded size."""
    return np.bincount(molecules.num_atoms, minlength=molecules.positions.shape[1] + 1)


def _symbol(token: str) -> str:
    if token.isdigit():
        z = int(token)
        if not 1 <= z <= len(ELEMENTS):
            raise ValueError(f"unknown atomic number {z}")
        return ELEMENTS[z - 1]
    return token[:1].upper() + token[1:].lower()


def _float(token: str) -> float:
    return float(token.replace("*^", "e"))


def read_xyz(path: str | os.PathLike) -> list[Structure]:
    """Frames of a (multi-frame) XYZ file as (symbols, (n, 3) float64 positions in the file's units)."""
    with open(path) as f:
        lines = f.read().splitlines()
    frames: list[Structure] = []
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        try:
            n = int(lines[i].split()[0])
        except ValueError:
            raise ValueError(f"{path}:{i + 1}: expected an atom count, got {lines[i]!r}") from None
        if i + 2 + n > len(lines):
            raise ValueError(f"{path}:{i + 1}: frame declares {n} atoms but the file ends after line {len(lines)}")
        symbols, pos = [], np.zeros((n, 3))
        for k in range(n):
            lineno = i + 3 + k
            tokens = lines[lineno - 1].split()
            try:
                if len(tokens) < 4:
                    raise ValueError("expected 'element x y z'")
                symbols.append(_symbol(tokens[0]))
                atomic_number(symbols[-1])
                pos[k] = [_float(t) for t in tokens[1:4]]
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: bad atom line {lines[lineno - 1]!r}: {e}") from None
        frames.append((tuple(symbols), pos))
        i += 2 + n
    return frames


def read_sdf(path: str | os.PathLike, *, remove_h: bool = False) -> list[Structure]:
    """Records of a V2000 SDF/molfile as (symbols, (n, 3) float64 positions in Angstrom); V3000 is unsupported."""
    with open(path) as f:
        lines = f.read().splitlines()
    records: list[Structure] = []
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and lines[end].strip() != "$$$$":
            end += 1
        if any(line.strip() for line in lines[start:end]):
            records.append(_read_molfile(lines, start, end, path, remove_h))
        start = end + 1
    return records


def _read_molfile(lines: list[str], start: int, end: int, path: str | os.PathLike, remove_h: bool) -> Structure:
    counts = start + 3
    if counts >= end:
        raise ValueError(f"{path}:{start + 1}: record ends before its counts line (line {counts + 1})")
    line = lines[counts]
    if "V3000" in line:
        raise ValueError(f"{path}:{counts + 1}: V3000 molfiles are unsupported (only V2000)")
    try:
        n = int(line[0:3])
        int(line[3:6])
    except ValueError:
        raise ValueError(f"{path}:{counts + 1}: bad counts line {line!r} (expected 'aaabbb... V2000')") from None
    if counts + n >= end:
        raise ValueError(
            f"{path}:{counts + 1}: counts line declares {n} atoms but the record has only "
            f"{end - counts - 1} lines after it (ends at line {end})"
        )
    symbols, pos = [], np.zeros((n, 3))
    for k in range(n):
        lineno = counts + 2 + k
        atom = lines[lineno - 1]
        try:
            pos[k] = [float(atom[c : c + 10]) for c in (0, 10, 20)]
            symbol = atom[31:34].strip()
            if not symbol:
                raise ValueError
        except ValueError:
            tokens = atom.split()
            try:
                pos[k] = [float(t) for t in tokens[:3]]
                symbol = tokens[3]
            except (ValueError, IndexError):
                raise ValueError(f"{path}:{lineno}: bad atom line {atom!r} (non-numeric coordinate?)") from None
        try:
            symbols.append(_symbol(symbol))
            atomic_number(symbols[-1])
        except ValueError as e:
            raise ValueError(f"{path}:{lineno}: bad atom line {atom!r}: {e}") from None
    if remove_h:
        keep = np.array([s != "H" for s in symbols], dtype=bool)
        return tuple(s for s, k in zip(symbols, keep) if k), pos[keep]
    return tuple(symbols), pos


def qm9_split_indices(num_molecules: int = QM9_NUM_MOLECULES) -> dict[str, np.ndarray]:
    """EDM's QM9 split as int64 indices into the molecules sorted by GDB9 index.

    ``perm = RandomState(0).permutation(num_molecules)``; train/valid/test take perm[:100000], the next
    num_molecules - 100000 - int(0.1 num_molecules), and the last int(0.1 num_molecules), each in ascending order
    (EDM keeps the files of a split in GDB9 order). The halves are ``train[RandomState(42).permutation(len(train))]``
    cut in two, as EDM's ``qm9_first_half`` / ``qm9_second_half``.
    """
    num_train, num_test = 100000, int(0.1 * num_molecules)
    num_valid = num_molecules - num_train - num_test
    if num_valid <= 0:
        raise ValueError(f"EDM's split needs more than {num_train + num_test} molecules, got {num_molecules}")
    perm = np.random.RandomState(0).permutation(num_molecules)
    train, valid, test = (np.sort(p) for p in np.split(perm, [num_train, num_train + num_valid]))
    fixed_perm = np.random.RandomState(42).permutation(num_train)
    return {
        "all": np.arange(num_molecules),
        "train": train,
        "valid": valid,
        "test": test,
        "train_first_half": train[fixed_perm[: num_train // 2]],
        "train_second_half": train[fixed_perm[num_train // 2 :]],
    }


def qm9_data_dir() -> str:
    """Directory holding qm9pack's ``qm9_part{1,2,3}.csv`` (found without importing qm9pack)."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("QM9 needs the qm9pack package: pip install qm9pack")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def read_qm9_csv(path: str | os.PathLike, *, max_rows: int | None = None) -> dict[str, np.ndarray]:
    """Parse one qm9pack CSV file (its first ``max_rows`` rows if given).

    Returns ``gdb9_id`` (M,) int32, ``num_atoms`` (M,) int8, ``atom_types`` (M, 29) int8 into QM9_ATOMS (-1 pad),
    ``positions`` (M, 29, 3) float32 Angstrom, ``smiles`` (M,) str, and each of QM9_PROPERTIES (M,) float64
    in EDM's units.
    """
    index = {s: k for k, s in enumerate(QM9_ATOMS)}
    ids, nums, types, coords, smiles = [], [], [], [], []
    props: dict[str, list[float]] = {p: [] for p in QM9_PROPERTIES}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            if max_rows is not None and len(ids) >= max_rows:
                break
            where = f"{path}:{reader.line_num}"
            try:
                symbols = [s.strip(" '\"") for s in row["Elements"].strip("[] ").split(",")]
                xyz = np.array([_float(v) for v in row["XYZ_Ang"].replace("[", "").replace("]", "").split(",")])
                n = int(row["N_atoms"])
                if len(symbols) != n or xyz.size != 3 * n or n > QM9_MAX_ATOMS:
                    raise ValueError(f"N_atoms={n}, {len(symbols)} elements, {xyz.size} coordinates")
                t = np.full(QM9_MAX_ATOMS, -1, np.int8)
                t[:n] = [index[s] for s in symbols]
                x = np.zeros((QM9_MAX_ATOMS, 3), np.float32)
                x[:n] = xyz.reshape(n, 3)
                for p, (column, scale) in _QM9_COLUMNS.items():
                    props[p].append(_float(row[column]) * scale)
                ids.append(int(row["Index"]))
            except (KeyError, ValueError) as e:
                raise ValueError(f"{where}: bad QM9 row: {type(e).__name__}: {e}") from None
            nums.append(n)
            types.append(t)
            coords.append(x)
            smiles.append(row["SMILES"])
    return {
        "gdb9_id": np.array(ids, np.int32),
        "num_atoms": np.array(nums, np.int8),
        "atom_types": np.array(types, np.int8).reshape(-1, QM9_MAX_ATOMS),
        "positions": np.array(coords, np.float32).reshape(-1, QM9_MAX_ATOMS, 3),
        "smiles": np.array(smiles, dtype=str),
        **{p: np.array(v, np.float64) for p, v in props.items()},
    }


def _default_cache_dir() -> str:
    return os.environ.get("JAXSCI_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "jaxsci")


def build_qm9_cache(cache_dir: str | None = None) -> str:
    """Parse qm9pack's CSVs into one compressed npz (written atomically) and return its path."""
    data_dir = qm9_data_dir()
    start = time.perf_counter()
    parts = [read_qm9_csv(os.path.join(data_dir, name)) for name in _QM9_FILES]
    data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.argsort(data["gdb9_id"], kind="stable")
    if np.any(order != np.arange(len(order))):
        data = {k: v[order] for k, v in data.items()}
    if len(np.unique(data["gdb9_id"])) != len(data["gdb9_id"]):
        raise ValueError("qm9pack's CSVs contain duplicate GDB9 indices")
    cache_dir = cache_dir or _default_cache_dir()
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, _CACHE_NAME)
    fd, tmp = tempfile.mkstemp(prefix=_CACHE_NAME, suffix=".tmp", dir=cache_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _log.info("built %s from %s in %.1f s", path, data_dir, time.perf_counter() - start)
    return path


def load_qm9(cache_dir: str | None = None, *, split: str = "train") -> Molecules:
    """QM9 ``split`` (one of QM9_SPLITS) with N = 29, properties QM9_PROPERTIES + ``n_atoms``, ids = GDB9 index.

    The first call parses qm9pack's CSVs (a few seconds) into ``cache_dir`` (default ``$JAXSCI_CACHE`` or
    ``~/.cache/jaxsci``); later calls load the cache.
    """
    if split not in QM9_SPLITS:
        raise ValueError(f"unknown QM9 split {split!r}; expected one of {QM9_SPLITS}")
    path = os.path.join(cache_dir or _default_cache_dir(), _CACHE_NAME)
    if not os.path.exists(path):
        path = build_qm9_cache(cache_dir)
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    idx = qm9_split_indices(len(data["gdb9_id"]))[split]
    atom_types = data["atom_types"][idx].astype(np.int32)
    properties = {p: data[p][idx] for p in QM9_PROPERTIES}
    properties["n_atoms"] = data["num_atoms"][idx].astype(np.float64)
    return Molecules(
        positions=data["positions"][idx],
        atom_types=atom_types,
        mask=atom_types >= 0,
        atoms=QM9_ATOMS,
        properties=properties,
        smiles=tuple(data["smiles"][idx].tolist()),
        ids=data["gdb9_id"][idx],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jaxsci.edm.data", description="Build the QM9 cache (EDM split).")
    parser.add_argument("--cache", default=None, help="cache directory (default: $JAXSCI_CACHE or ~/.cache/jaxsci)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    path = build_qm9_cache(args.cache)
    t1 = time.perf_counter()
    print(f"built {path} ({os.path.getsize(path) / 2**20:.1f} MiB) in {t1 - t0:.1f} s")
    for split in QM9_SPLITS:
        mols = load_qm9(args.cache, split=split)
        hist = atom_histogram(mols)
        sizes = np.nonzero(hist)[0]
        print(f"{split:>18}: {len(mols):6d} molecules, {sizes.min()}-{sizes.max()} atoms")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
