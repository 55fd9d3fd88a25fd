"""`catchment sites` against the capacitated facility-location MILP solved by SciPy's HiGHS.

For each instance: make the sites inputs from a generated synthetic town (every third school a
candidate site, the others one class larger), run `catchment sites --open 3 --method exact`
once, then for k = 1, 2, 3 build the same problem as a MILP from the very same files and solve
it with `scipy.optimize.milp` (HiGHS, relative gap 0). The objectives must be equal to the
meter, or the run fails.

    python benches/peers/sites.py --catchment PATH/catchment --data DIR INSTANCE [INSTANCE...]
    python benches/peers/sites.py --worker DIR K      (one HiGHS solve, JSON on stdout)

INSTANCE is family:pupils:schools[:budget|:close]; the town is DIR/family-NxM-seed1.

The MILP (written here from the problem's statement, not from catchment's code):
  minimise    sum_ij walk_ij x_ij
  subject to  sum_j x_ij = 1                       every pupil (pairs with a route only)
              min_j <= load_j <= cap_j             every school that stays
              load_j + cap_j z_j <= cap_j,
              load_j + min_j z_j >= min_j          every school that may close (z_j binary)
              min_c y_c <= load_c <= cap_c y_c     every candidate (y_c binary)
              x_ic <= y_c                          every pupil and candidate
              sum_c y_c <= k,  sum_j z_j = N,  sum_c cost_c y_c <= budget (when given)
              0 <= x_ij <= 1
x stays continuous: for integral y and z what is left is a transportation problem, whose
polytope is integral.
"""
import argparse, json, os, shutil, subprocess, sys, time

MIP_SECONDS = 1800
BUDGET = 4  # with costs 1, 2, 3 (by candidate number mod 3): at most four units to spend
CLOSE_EVERY = 9  # every ninth remaining school may close


def capacities(schools):
    import numpy as np
    if "capacity" in schools:
        cap = schools["capacity"].to_numpy(np.int64)
    else:
        size = schools["class_size"] if "class_size" in schools else 22
        cap = (schools["max_classes"] * size).to_numpy(np.int64)
    mins = schools["min_pupils"].to_numpy(np.int64) if "min_pupils" in schools else np.zeros(len(schools), np.int64)
    return cap, mins


def prepare(gen, out, variant):
    """Split the generated town into current schools and candidate sites, as scripts/sites-demo."""
    import pandas as pd
    os.makedirs(out, exist_ok=True)
    schools = pd.read_csv(os.path.join(gen, "schools.csv"), dtype={"id": str})
    num = schools["id"].str[1:].astype(int)
    is_cand = num % 3 == 0
    cur, cand = schools[~is_cand].copy(), schools[is_cand].copy()
    # One more class at every current school (or 22 seats), so that they seat every pupil.
    if "max_classes" in cur:
        cur["max_classes"] += 1
    else:
        cur["capacity"] += 22
    if variant == "budget":
        cand["cost"] = 1 + (cand["id"].str[1:].astype(int) // 3) % 3
    cur.to_csv(os.path.join(out, "schools.csv"), index=False)
    cand.to_csv(os.path.join(out, "candidates.csv"), index=False)
    mat = pd.read_csv(os.path.join(gen, "matrix.csv"), dtype={"pupil_id": str, "school_id": str, "meters": str})
    cids = set(cand["id"])
    mat[~mat["school_id"].isin(cids)].to_csv(os.path.join(out, "matrix.csv"), index=False)
    mat[mat["school_id"].isin(cids)].to_csv(os.path.join(out, "candidates-matrix.csv"), index=False)
    shutil.copy(os.path.join(gen, "pupils.csv"), os.path.join(out, "pupils.csv"))
    if variant == "close":
        closable = cur["id"].iloc[::CLOSE_EVERY].head(5)
        closable.to_frame("school_id").to_csv(os.path.join(out, "closures.csv"), index=False)


def highs(d, k, variant):
    """The MILP above from the files in `d`; returns (objective, build seconds, solve seconds)."""
    import numpy as np
    import pandas as pd
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    t0 = time.perf_counter()
    schools = pd.read_csv(os.path.join(d, "schools.csv"), dtype={"id": str})
    cand = pd.read_csv(os.path.join(d, "candidates.csv"), dtype={"id": str})
    pupils = pd.read_csv(os.path.join(d, "pupils.csv"), dtype={"id": str})
    assert "fixed_school" not in pupils, "fixed pupils are not modelled here"
    cap_s, min_s = capacities(schools)
    cap_c, min_c = capacities(cand)
    cols = list(schools["id"]) + list(cand["id"])
    cap = np.concatenate([cap_s, cap_c])
    mins = np.concatenate([min_s, min_c])
    n_e, n_c, n_j = len(schools), len(cand), len(cols)
    closable = []
    if variant == "close":
        ids = pd.read_csv(os.path.join(d, "closures.csv"), dtype={"school_id": str})["school_id"]
        closable = [cols.index(i) for i in ids]
    mats = [pd.read_csv(os.path.join(d, f), dtype={"pupil_id": str, "school_id": str, "meters": str},
                        usecols=["pupil_id", "school_id", "meters"])
            for f in ("matrix.csv", "candidates-matrix.csv")]
    mat = pd.concat(mats)
    mat = mat[mat["meters"] != "unreachable"]
    pix = {p: i for i, p in enumerate(pupils["id"])}
    jix = {s: j for j, s in enumerate(cols)}
    p = mat["pupil_id"].map(pix).to_numpy(np.int64)
    s = mat["school_id"].map(jix).to_numpy(np.int64)
    w = mat["meters"].astype(np.int64).to_numpy()
    n, nx = len(pupils), len(p)
    # Variables: x (one per pair), then y (candidates), then z (closable schools).
    ny, nz = n_c, len(closable)
    nv = nx + ny + nz
    yv = lambda c: nx + c
    zv = {j: nx + ny + i for i, j in enumerate(closable)}
    rows, cls, vals, lo, hi = [], [], [], [], []
    r = 0

    def row(idx, coef, lb, ub):
        nonlocal r
        rows.append(np.full(len(idx), r, np.int64))
        cls.append(np.asarray(idx, np.int64))
        vals.append(np.asarray(coef, np.float64))
        lo.append(lb)
        hi.append(ub)
        r += 1

    # Every pupil at exactly one school: one row per pupil, built at once.
    rows.append(p.copy()); cls.append(np.arange(nx)); vals.append(np.ones(nx)); r = n
    lo.extend([1.0] * n); hi.extend([1.0] * n)
    by_col = [np.flatnonzero(s == j) for j in range(n_j)]
    for j in range(n_j):
        xs = by_col[j]
        if j >= n_e:
            y = yv(j - n_e)
            row(list(xs) + [y], [1.0] * len(xs) + [-float(cap[j])], -np.inf, 0.0)
            if mins[j] > 0:
                row(list(xs) + [y], [1.0] * len(xs) + [-float(mins[j])], 0.0, np.inf)
        elif j in zv:
            row(list(xs) + [zv[j]], [1.0] * len(xs) + [float(cap[j])], -np.inf, float(cap[j]))
            if mins[j] > 0:
                row(list(xs) + [zv[j]], [1.0] * len(xs) + [float(mins[j])], float(mins[j]), np.inf)
        else:
            row(xs, np.ones(len(xs)), float(mins[j]), float(cap[j]))
    # x_ic <= y_c, one row per pupil-candidate pair, built at once.
    links = np.flatnonzero(s >= n_e)
    nl = len(links)
    ridx = np.arange(r, r + nl)
    rows.extend([ridx, ridx]); cls.extend([links, nx + s[links] - n_e])
    vals.extend([np.ones(nl), -np.ones(nl)]); lo.extend([-np.inf] * nl); hi.extend([0.0] * nl); r += nl
    row([yv(c) for c in range(n_c)], np.ones(n_c), 0.0, float(k))
    if variant == "close":
        row(list(zv.values()), np.ones(nz), 1.0, 1.0)
    if "cost" in cand:
        row([yv(c) for c in range(n_c)], cand["cost"].to_numpy(np.float64), -np.inf, float(BUDGET))
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cls))), shape=(r, nv)).tocsr()
    obj = np.concatenate([w.astype(np.float64), np.zeros(ny + nz)])
    integrality = np.concatenate([np.zeros(nx), np.ones(ny + nz)])
    t1 = time.perf_counter()
    res = milp(obj, constraints=LinearConstraint(a, np.array(lo), np.array(hi)), integrality=integrality,
               bounds=Bounds(0, 1), options={"mip_rel_gap": 0.0, "time_limit": MIP_SECONDS})
    t2 = time.perf_counter()
    assert res.status == 0, f"HiGHS: {res.message}"
    return int(round(res.fun)), t1 - t0, t2 - t1


def run_catchment(exe, d, variant):
    cmd = [exe, "sites", "--schools", f"{d}/schools.csv", "--pupils", f"{d}/pupils.csv",
           "--matrix", f"{d}/matrix.csv", "--candidates", f"{d}/candidates.csv",
           "--candidate-matrix", f"{d}/candidates-matrix.csv", "--open", "3", "--method", "exact",
           "--mip-seconds", str(MIP_SECONDS), "--out", f"{d}/out"]
    if variant == "budget":
        cmd += ["--budget", str(BUDGET)]
    if variant == "close":
        cmd += ["--closures", f"{d}/closures.csv", "--close", "1"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    import pandas as pd
    rows = pd.read_csv(f"{d}/out/sites.csv", dtype=str).set_index("k")
    return rows, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=3, metavar=("DIR", "K", "VARIANT"))
    ap.add_argument("--catchment")
    ap.add_argument("--data")
    ap.add_argument("instances", nargs="*")
    a = ap.parse_args()
    if a.worker:
        d, k, variant = a.worker
        obj, build, solve = highs(d, int(k), variant)
        print(json.dumps({"objective": obj, "build_seconds": build, "solve_seconds": solve}))
        return
    out = []
    for inst in a.instances:
        family, n, m, *rest = inst.split(":")
        variant = rest[0] if rest else ""
        gen = os.path.join(a.data, f"{family}-{n}x{m}-seed1")
        d = gen + ("-" + variant if variant else "") + "-sites"
        prepare(gen, d, variant)
        n_c = sum(1 for _ in open(f"{d}/candidates.csv")) - 1
        n_e = sum(1 for _ in open(f"{d}/schools.csv")) - 1
        rows, wall = run_catchment(a.catchment, d, variant)
        name = f"{family} {int(n):,} pupils, {n_e} schools + {n_c} sites" + (
            f", budget {BUDGET}" if variant == "budget" else ", 1 of 5 closes" if variant == "close" else "")
        for k in (1, 2, 3):
            res = subprocess.run([sys.executable, __file__, "--worker", d, str(k), variant],
                                 check=True, stdout=subprocess.PIPE, text=True)
            h = json.loads(res.stdout.strip().splitlines()[-1])
            row = rows.loc[str(k)]
            ours = int(row["walk_m"])
            if ours != h["objective"]:
                sys.exit(f"{name} k={k}: catchment's walk {ours} m != HiGHS' {h['objective']} m")
            out.append((name, k, row, ours, wall if k == 1 else None, h))
            print(f"  {name} k={k} equal: {ours} m", file=sys.stderr)
    print("| instance | k | sites (catchment) | catchment walk (m) | gap | catchment run k=0..3 s "
          "| HiGHS objective (m) | HiGHS solve s |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, k, row, ours, wall, h in out:
        sites = row["sites"].replace(" ", ", ") if isinstance(row["sites"], str) else ""
        if isinstance(row.get("closed"), str) and row["closed"]:
            sites += f" (closes {row['closed']})"
        t = f"{wall:.1f}" if wall is not None else ""
        print(f"| {name} | {k} | {sites} | {ours:,} | {float(row['gap']):.2%} | {t} | {h['objective']:,} "
              f"| {h['solve_seconds']:.1f} |")
    print("\nEvery objective equals HiGHS' to the meter.")


if __name__ == "__main__":
    main()
