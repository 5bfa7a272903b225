"""Benchmark of the GMM engine against scikit-learn (run by hand; prints tables).

    python benchmarks/bench_gmm.py [--quick] [--reps 3] [--blas-threads 1] [--tables 234]

1. One EM iteration (E-step with statistics + M-step) of a single GMM, N=360000, D=19,
   M in {5, 32, 128}, diag/full, float64/float32, against sklearn's own ``_e_step`` + ``_m_step``
   from the same parameters. Goal: >= 5x (diag, float32), never slower (full).
2. 16 GMMs x 5 components, each trained on 1/16 of the same frames, 3 EM iterations:
   ``GMMSet.fit`` against a Python loop of 16 ``sklearn.mixture.GaussianMixture.fit``. Goal >= 10x.
   Also the time of the fit's matrix products alone (what the rest of the fit adds to them).
3. Frame log-likelihoods of 360000 frames against 16 GMMs x 5 components: frames/s and GFLOP/s
   against the machine's measured matmul GFLOP/s.
4. (not in the default ``--tables 123``) The fit of table 2 on one engine thread, on two, and
   split into two halves of 8 GMMs run by two processes of one engine thread each: how far the
   engine threads are from the scaling that the GIL does not limit.
5. (not in the default) Numpy calls alone on two Python threads (an exponential and a product
   in place, arrays of 4 096 - 524 288 float32 values, no engine code): how much two threads
   gain on this machine as a function of the length of each call.

Times are the best of ``--reps`` runs (wall clock, ``time.perf_counter``); in table 2 the two
sides alternate run by run.
"""

import argparse
import functools
import os
import time
import warnings

import numpy as np

from diarizer._xp import get_xp
from diarizer.gmm import GMMSet
from diarizer.gmm._kernels import estep, frame_design, mstep, scoring_params

N, D = 360_000, 19
print = functools.partial(print, flush=True)  # noqa: A001  (partial tables survive a kill)


def best_of(fn, reps):
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def best_of_pair(fa, fb, reps):
    """Best times of ``fa`` and ``fb`` run alternately ``reps`` times each (a slow minute of a
    shared machine then slows both sides, not one)."""
    ta, tb = [], []
    for _ in range(reps):
        for fn, out in ((fa, ta), (fb, tb)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return min(ta), min(tb)


def params(rng, M, ctype):
    w = rng.dirichlet(np.ones(M))
    mu = rng.normal(size=(M, D))
    if ctype == "diag":
        cov = rng.uniform(0.5, 2.0, size=(M, D))
    else:
        A = rng.normal(size=(M, D, D))
        cov = A @ A.transpose(0, 2, 1) / D + np.eye(D)
    return w, mu, cov


def sklearn_model(w, mu, cov, ctype, dtype, X):
    from sklearn.mixture import GaussianMixture
    prec = 1.0 / cov if ctype == "diag" else np.linalg.inv(cov)
    sk = GaussianMixture(len(w), covariance_type=ctype, max_iter=1, tol=0.0, reg_covar=1e-6,
                         weights_init=w.astype(dtype), means_init=mu.astype(dtype),
                         precisions_init=prec.astype(dtype),
                         init_params="random_from_data")
    sk._initialize_parameters(X[:1000].astype(dtype), np.random.RandomState(0))
    sk.weights_ = w.astype(dtype)
    sk.means_ = mu.astype(dtype)
    return sk


def bench_single(X64, reps, Ms):
    xp = get_xp("numpy")
    rng = np.random.default_rng(0)
    rows = []
    for ctype in ("diag", "full"):
        for M in Ms:
            w, mu, cov = params(rng, M, ctype)
            for dt in ("float64", "float32"):
                X = X64.astype(dt)
                g = GMMSet(w, mu, cov, [M], ctype, xp=xp, dtype=dt, reg_covar=1e-6)
                Z = frame_design(X, ctype, xp=xp)

                def ours():
                    p = scoring_params(g.weights, g.means, g.precisions_cholesky, ctype, xp=xp)
                    _, Nk, S1, S2 = estep(Z, p, ctype, xp=xp)
                    mstep(Nk, S1, S2, g.means, ctype, xp=xp, dtype=g.dtype, reg_covar=1e-6)

                sk = sklearn_model(w, mu, cov, ctype, dt, X)

                def theirs():
                    _, log_resp = sk._e_step(X)
                    sk._m_step(X, log_resp)
                    sk.weights_, sk.means_ = w.astype(dt), mu.astype(dt)
                    sk._initialize_parameters(X[:1000], np.random.RandomState(0))

                t_ours = best_of(ours, reps)
                # reset cost (tiny: 1000 frames) is subtracted
                t_reset = best_of(lambda: sk._initialize_parameters(
                    X[:1000], np.random.RandomState(0)), reps)
                t_sk = best_of(theirs, reps) - t_reset
                rows.append((ctype, M, dt, t_ours, t_sk))
    print("\n1. One EM iteration (E-step with statistics + M-step), single GMM, "
          f"N={N}, D={D}")
    print(f"{'cov':5} {'M':>4} {'dtype':8} {'ours s':>9} {'sklearn s':>10} {'speed-up':>9}  goal")
    for ctype, M, dt, a, b in rows:
        goal = ">=5x" if (ctype == "diag" and dt == "float32") else (">=1x" if ctype == "full"
                                                                      else "")
        print(f"{ctype:5} {M:>4} {dt:8} {a:9.3f} {b:10.3f} {b / a:8.1f}x  {goal}")


TABLE2 = (16, 5)
"""GMMs and components of table 2 (and of table 4, the same fit)."""


def table2_setup(X64, dt):
    """Table 2's frames in ``dt``, their 16-way split (labels) and the GMMs' initial parameters."""
    G, M = TABLE2
    X = X64.astype(dt)
    labels = np.arange(N) * G // N
    init = GMMSet.initialize(X, labels, M, xp="numpy", dtype=dt, reg_covar=1e-6,
                             relative_floor=None)
    return X, labels, init.to_numpy()


def table2_fit(X, labels, p0, dt, gmms=None):
    """Table 2's fit (3 EM iterations from ``p0``) of all its GMMs, or of those of ``gmms``
    (a range) on their own frames."""
    G, M = TABLE2
    gmms = range(G) if gmms is None else gmms
    sel = slice(gmms.start * M, gmms.stop * M)
    lab = labels if len(gmms) == G else np.where(
        (labels >= gmms.start) & (labels < gmms.stop), labels - gmms.start, -1)
    s = GMMSet(p0["weights"][sel], p0["means"][sel], p0["covariances"][sel], [M] * len(gmms),
               xp="numpy", dtype=dt, reg_covar=1e-6)
    s.fit(X, lab, max_iter=3, min_iter=3, tol=0.0)


def bench_batched(X64, reps):
    from sklearn.mixture import GaussianMixture
    G, M = TABLE2
    rng = np.random.default_rng(1)
    rows = []
    for dt in ("float64", "float32"):
        X, labels, p0 = table2_setup(X64, dt)

        def ours():
            table2_fit(X, labels, p0, dt)

        def theirs():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for g in range(G):
                    sl = slice(g * M, (g + 1) * M)
                    GaussianMixture(M, covariance_type="diag", max_iter=3, tol=0.0, reg_covar=1e-6,
                                    weights_init=p0["weights"][sl], means_init=p0["means"][sl],
                                    precisions_init=1.0 / p0["covariances"][sl],
                                    init_params="random_from_data",
                                    random_state=0).fit(X[labels == g])

        ours()  # warm-up: allocations, thread pool
        products = products_alone(rng, G, M, N // G, dt, reps)
        rows.append((dt, *best_of_pair(ours, theirs, reps), products))
    del rng
    print(f"\n2. {G} GMMs x {M} components (diag), 16-way split of N={N}, 3 EM iterations")
    print(f"{'dtype':8} {'GMMSet.fit s':>13} {'16 sklearn fits s':>18} {'speed-up':>9} "
          f"{'products alone s':>17} {'sklearn / products':>19}  goal >=10x")
    for dt, a, b, c in rows:
        print(f"{dt:8} {a:13.3f} {b:18.3f} {b / a:8.1f}x {c:17.3f} {b / c:18.1f}x")
    print("products alone: only the matrix products of the same fit (4 E-steps' scores, 3 "
          "E-steps' statistics,\non the engine's 2048-frame chunks, one BLAS thread per engine "
          "thread); the rest of GMMSet.fit\nis the design, the exponentials and reductions, the "
          "M-steps and Python.")


def products_alone(rng, G, M, n, dt, reps):
    """Best time of only the matrix products of :meth:`GMMSet.fit` (3 EM iterations) on ``G``
    GMMs of ``n`` frames: per GMM 4 score products ``W @ Z`` and 3 statistics products
    ``R @ Z^T`` on the feature-major design chunks the engine uses, on its threads (the
    engine's own :func:`~diarizer.gmm._threads._map_gmms`: its pool, one BLAS thread each)."""
    from diarizer.gmm._kernels import diag_chunk_size
    from diarizer.gmm._threads import _map_gmms

    cs = diag_chunk_size(n)
    K = 2 * D + 1
    nch = -(-n // cs)
    Z = [rng.normal(size=(nch, K, cs)).astype(dt) for _ in range(G)]
    W = rng.normal(size=(1, M, K)).astype(dt)
    R = [rng.random(size=(nch, M, cs)).astype(dt) for _ in range(G)]

    def one(g):
        for it in range(4):
            np.matmul(W, Z[g])
            if it < 3:
                np.matmul(R[g], Z[g].transpose(0, 2, 1))

    xp = get_xp("numpy")

    def run():
        _map_gmms(one, G, xp, [n] * G)

    run()
    return best_of(run, reps)


def bench_scoring(X64, reps):
    G, M = 16, 5
    C = G * M
    rng = np.random.default_rng(2)
    print(f"\n3. Frame log-likelihoods, N={N} frames x {G} GMMs x {M} components (diag)")
    print(f"{'dtype':8} {'time s':>8} {'Mframes/s':>10} {'GFLOP/s':>8} {'matmul GFLOP/s':>15} "
          f"{'fraction':>8}")
    for dt in ("float64", "float32"):
        X = X64.astype(dt)
        w = np.concatenate([rng.dirichlet(np.ones(M)) for _ in range(G)])
        s = GMMSet(w, rng.normal(size=(C, D)), rng.uniform(0.5, 2, size=(C, D)), [M] * G,
                   xp="numpy", dtype=dt)
        t = best_of(lambda: s.log_likelihood(X), reps)
        # matmul (N, 2D) @ (2D, C) plus exp/log/sum of the log-sum-exp (~6 flops per entry)
        flops = 2.0 * N * 2 * D * C + 6.0 * N * C
        A = rng.normal(size=(2000, 2000)).astype(dt)
        tm = best_of(lambda: A @ A, reps)
        peak = 2 * 2000**3 / tm / 1e9
        gf = flops / t / 1e9
        print(f"{dt:8} {t:8.3f} {N / t / 1e6:10.2f} {gf:8.2f} {peak:15.1f} {gf / peak:8.1%}")


_HALF = {}  # the state of table 4's processes (inherited through fork)


def _fit_half(h):
    """Table 4: fit half ``h`` of table 2's GMMs on their frames, one engine thread; seconds."""
    from diarizer.gmm._threads import _blas_limit

    X, labels, p0, dt = (_HALF[k] for k in ("X", "labels", "p0", "dt"))
    os.environ["DIARIZER_ENGINE_THREADS"] = "1"
    half = TABLE2[0] // 2
    with _blas_limit(get_xp("numpy")):  # as the engine's threads: one BLAS thread
        t = time.perf_counter()
        table2_fit(X, labels, p0, dt, gmms=range(h * half, (h + 1) * half))
        return time.perf_counter() - t


def bench_scaling(X64, reps):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    G, M = TABLE2
    print(f"\n4. The fit of table 2 on engine threads and on processes ({G} GMMs x {M} components, "
          "3 EM iterations)")
    if "fork" not in mp.get_all_start_methods():
        print("(needs the fork start method: skipped)")
        return
    print(f"{'dtype':8} {'1 thread s':>11} {'2 threads s':>12} {'scaling':>8} "
          f"{'2 processes s':>14} {'scaling':>8}")
    saved = os.environ.get("DIARIZER_ENGINE_THREADS")
    try:
        for dt in ("float64", "float32"):
            X, labels, p0 = table2_setup(X64, dt)
            _HALF.update(X=X, labels=labels, p0=p0, dt=dt)

            def on_threads(n):
                os.environ["DIARIZER_ENGINE_THREADS"] = str(n)
                table2_fit(X, labels, p0, dt)

            with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
                def on_processes():
                    list(pool.map(_fit_half, [0, 1]))

                on_processes()  # warm-up: the workers start
                on_threads(2)
                t1 = t2 = tp = float("inf")
                for _ in range(reps):  # the three alternate run by run
                    t1 = min(t1, best_of(lambda: on_threads(1), 1))
                    t2 = min(t2, best_of(lambda: on_threads(2), 1))
                    tp = min(tp, best_of(on_processes, 1))
            print(f"{dt:8} {t1:11.3f} {t2:12.3f} {t1 / t2:7.2f}x {tp:14.3f} {t1 / tp:7.2f}x")
    finally:
        if saved is None:
            os.environ.pop("DIARIZER_ENGINE_THREADS", None)
        else:
            os.environ["DIARIZER_ENGINE_THREADS"] = saved
    print("2 processes: the two halves side by side, each process one engine thread (what the "
          "threads\nwould do if the Python between numpy's calls did not hold the GIL).")


def _numpy_calls(n_values, calls):
    """Table 5: ``calls`` numpy calls (exponential, then product, in place) on ``n_values``."""
    a = np.random.default_rng(0).random(n_values, dtype=np.float32)
    out = np.empty_like(a)
    for _ in range(calls // 2):
        np.exp(a, out=out)
        np.multiply(out, 0.5, out=out)


def bench_call_scaling(reps):
    import threading

    print("\n5. numpy calls on two Python threads: scaling against the length of one call")
    print(f"{'values':>8} {'us per call':>12} {'2 x sequential s':>17} {'2 threads s':>12} "
          f"{'scaling':>8}")
    for n in (4096, 32768, 131072, 524288):
        calls = max(2, int(4e8 // n) // 2 * 2)  # about 0.1 s of calls per thread

        def sequential():
            _numpy_calls(n, calls)
            _numpy_calls(n, calls)

        def threaded():
            ts = [threading.Thread(target=_numpy_calls, args=(n, calls)) for _ in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()

        ts, tt = best_of_pair(sequential, threaded, reps)
        print(f"{n:8d} {ts / (2 * calls) * 1e6:12.1f} {ts:17.3f} {tt:12.3f} {ts / tt:7.2f}x")
    print("Each call releases the GIL for its loop and takes it back after: the shorter the "
          "calls,\nthe more of the time one thread waits for the GIL the other holds.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="M in {5, 32} only in table 1")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit the BLAS threads of both sides (steadier on a loaded machine)")
    ap.add_argument("--tables", default="123",
                    help="tables to run, e.g. 23, 4 or 5 (default 123)")
    args = ap.parse_args()
    if args.blas_threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.blas_threads, user_api="blas")
    try:
        from threadpoolctl import threadpool_info
        threads = ", ".join(f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info())
    except ImportError:
        threads = "unknown"
    X64 = np.random.default_rng(0).normal(size=(N, D))  # (imports numpy's BLAS before the query)
    print(f"BLAS threads: {threads}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}; "
          f"cpus={os.cpu_count()}; load average {os.getloadavg()[0]:.1f}")
    if "1" in args.tables:
        bench_single(X64, args.reps, (5, 32) if args.quick else (5, 32, 128))
    if "2" in args.tables:
        bench_batched(X64, args.reps)
    if "3" in args.tables:
        bench_scoring(X64, args.reps)
    if "4" in args.tables:
        bench_scaling(X64, args.reps)
    if "5" in args.tables:
        bench_call_scaling(args.reps)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
