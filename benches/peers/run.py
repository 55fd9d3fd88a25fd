"""Run catchment, OR-Tools' SimpleMinCostFlow and SciPy's HiGHS on the same instance files.

Every solver runs in its own process (peak memory = that process's max RSS, from wait4);
times are the solver's own (model building and solving separately for the peers; catchment's
solve includes its feasibility diagnosis, and its certificate is timed and added). Every
objective must equal OR-Tools' to the meter, or the run fails.

    python benches/peers/run.py --catchment PATH/peer_solve DIR [DIR...]
    python benches/peers/run.py --worker ortools|highs DIR
"""
import argparse, json, os, subprocess, sys, time

# HiGHS (through linprog) and CBC only where they finish in reasonable time: at 20,000 x 200
# CBC takes ~30 s and HiGHS more than 10 minutes.
MAX_LP_PAIRS = 2_000 * 40 + 1


def load(d):
    import numpy as np
    import pandas as pd
    schools = pd.read_csv(os.path.join(d, "schools.csv"), dtype={"id": str})
    pupils = pd.read_csv(os.path.join(d, "pupils.csv"), dtype={"id": str})
    if "capacity" in schools:
        cap = schools["capacity"].to_numpy(np.int64)
    else:
        cap = (schools["max_classes"] * schools["class_size"]).to_numpy(np.int64)
    mins = schools["min_pupils"].to_numpy(np.int64) if "min_pupils" in schools else np.zeros(len(schools), np.int64)
    mat = pd.read_csv(os.path.join(d, "matrix.csv"), dtype={"pupil_id": str, "school_id": str, "meters": str},
                      usecols=["pupil_id", "school_id", "meters"])
    mat = mat[mat["meters"] != "unreachable"]
    pix = {p: i for i, p in enumerate(pupils["id"])}
    six = {s: i for i, s in enumerate(schools["id"])}
    p = mat["pupil_id"].map(pix).to_numpy(np.int64)
    s = mat["school_id"].map(six).to_numpy(np.int64)
    c = mat["meters"].astype(np.float64).round().astype(np.int64).to_numpy()
    return len(pupils), cap, mins, p, s, c


def ortools_solve(n, cap, mins, p, s, c):
    import numpy as np
    from ortools.graph.python import min_cost_flow
    m = len(cap)
    t0 = time.perf_counter()
    f = min_cost_flow.SimpleMinCostFlow()
    # Pupils 0..n-1 (supply 1) -> schools n..n+m-1 -> sink z. A school's minimum is its own
    # demand; the seats above the minimum flow on to z.
    z = n + m
    f.add_arcs_with_capacity_and_unit_cost(p, n + s, np.ones(len(p), np.int64), c)
    f.add_arcs_with_capacity_and_unit_cost(np.arange(n, n + m), np.full(m, z), cap - mins, np.zeros(m, np.int64))
    supplies = np.concatenate([np.ones(n, np.int64), -mins, [-(n - mins.sum())]])
    f.set_nodes_supplies(np.arange(n + m + 1), supplies)
    t1 = time.perf_counter()
    status = f.solve()
    t2 = time.perf_counter()
    assert status == f.OPTIMAL, status
    return f.optimal_cost(), t1 - t0, t2 - t1


def highs_solve(n, cap, mins, p, s, c):
    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix
    m = len(cap)
    t0 = time.perf_counter()
    k = len(p)
    a_eq = csr_matrix((np.ones(k), (p, np.arange(k))), shape=(n, k))
    a_school = csr_matrix((np.ones(k), (s, np.arange(k))), shape=(m, k))
    from scipy.sparse import vstack
    a_ub = vstack([a_school, -a_school]).tocsr()
    b_ub = np.concatenate([cap, -mins]).astype(np.float64)
    t1 = time.perf_counter()
    r = linprog(c.astype(np.float64), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1), method="highs")
    t2 = time.perf_counter()
    assert r.status == 0, r.message
    return int(round(r.fun)), t1 - t0, t2 - t1


def worker(kind, d):
    data = load(d)
    obj, build, solve = (ortools_solve if kind == "ortools" else highs_solve)(*data)
    print(json.dumps({"objective": obj, "build_seconds": build, "solve_seconds": solve}))


def run(cmd):
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_mib"] = ru.ru_maxrss / 1024
    r["wall_seconds"] = wall
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker")
    ap.add_argument("--catchment")
    ap.add_argument("dirs", nargs="+")
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.dirs[0])
    rows = []
    for d in a.dirs:
        name = os.path.basename(d.rstrip("/"))
        family = name.rsplit("-", 2)[0]
        n = sum(1 for _ in open(os.path.join(d, "pupils.csv"))) - 1
        m = sum(1 for _ in open(os.path.join(d, "schools.csv"))) - 1
        ours = run([a.catchment, d, "flow"])
        ortools = run([sys.executable, __file__, "--worker", "ortools", d])
        if ours["objective"] != ortools["objective"]:
            sys.exit(f"{name}: catchment's objective {ours['objective']} != OR-Tools' {ortools['objective']}")
        highs = None
        if n * m <= MAX_LP_PAIRS:
            highs = run([sys.executable, __file__, "--worker", "highs", d])
            if highs["objective"] != ours["objective"]:
                sys.exit(f"{name}: HiGHS objective {highs['objective']} != catchment's {ours['objective']}")
        rows.append((family, n, m, ours, ortools, highs))
        print(f"  {name} done", file=sys.stderr)
    print("| family | pupils x schools | objective (m) | catchment solve + certificate s | OR-Tools solve s "
          "| HiGHS solve s | OR-Tools / catchment | catchment peak MiB | OR-Tools peak MiB |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for family, n, m, ours, ortools, highs in rows:
        t = ours["solve_seconds"] + ours["certify_seconds"]
        h = f"{highs['solve_seconds']:.3f}" if highs else "not run"
        print(f"| {family} | {n:,} x {m} | {ours['objective']} | {t:.4f} | {ortools['solve_seconds']:.4f} "
              f"| {h} | {ortools['solve_seconds'] / t:.1f}x | {ours['peak_mib']:.0f} | {ortools['peak_mib']:.0f} |")
    print("\nEvery objective equals OR-Tools' to the meter (and HiGHS' where it ran).")


if __name__ == "__main__":
    main()
