"""The two LP solvers share one process, and nothing they print can reach an answer."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from councilplan.economy.bundle import DEMO_BUNDLE, load_demo
from councilplan.planning import plan, read_needs
from councilplan.planning.lp import LinearProgram, solve


def covering_lp(seed: int = 0, m: int = 60, n: int = 90) -> LinearProgram:
    """min c.x  s.t.  A x >= 1, x >= 0, with A sparse and non-negative."""
    rng = np.random.default_rng(seed)
    a = sp.random(m, n, density=0.08, random_state=seed, format="csc") + sp.eye(m, n)
    return LinearProgram(
        cost=rng.random(n) + 0.1,
        matrix=sp.csc_array(a),
        row_lower=np.ones(m),
        row_upper=np.full(m, np.inf),
        col_lower=np.zeros(n),
        col_upper=np.full(n, np.inf),
    )


def reference_objective(lp: LinearProgram) -> float:
    """SciPy's own HiGHS on the same program: a third HiGHS, in its own module."""
    done = linprog(lp.cost, A_ub=-lp.matrix, b_ub=-lp.row_lower, bounds=(0, None), method="highs")
    assert done.status == 0
    return float(done.fun)


@pytest.mark.parametrize("order", ["highs,pdlp,highs", "pdlp,highs,pdlp"])
def test_both_solvers_answer_in_one_process_in_either_order(order):
    # A fresh interpreter, so that the first solver named is the first HiGHS loaded.
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_lp import covering_lp
        from councilplan.planning.lp import solve
        for solver in {order!r}.split(","):
            answer = solve(covering_lp(), solver, tol=1e-9)
            print(solver, answer.status, repr(answer.objective), file=sys.stderr)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", "a solver wrote to standard output"
    expected = reference_objective(covering_lp())
    lines = done.stderr.split("\n")
    answers = [line.split() for line in lines if line.startswith(("highs ", "pdlp "))]
    assert [a[0] for a in answers] == order.split(",")
    for solver, status, objective in answers:
        assert status == "optimal"
        tol = 1e-12 if solver == "highs" else 1e-7
        assert float(objective) == pytest.approx(expected, rel=tol), solver


@pytest.mark.parametrize("solver", ["highs", "pdlp"])
def test_a_solver_writing_to_standard_output_cannot_change_the_answer(solver, monkeypatch, capfd):
    economy = load_demo()
    needs = read_needs(DEMO_BUNDLE / "needs" / "town.csv", economy)
    quiet = plan(economy, needs, method=solver, tol=1e-9)
    noise = b"\x80\x04\x95garbage that looks like a pickle.\n"

    def noisy(run):
        def wrapped(*args, **kwargs):
            os.write(1, noise)
            print("and some more through sys.stdout")
            answer = run(*args, **kwargs)
            os.write(1, noise)
            return answer

        return wrapped

    if solver == "highs":
        import highspy

        monkeypatch.setattr(highspy.Highs, "run", noisy(highspy.Highs.run))
    else:
        from ortools.pdlp.python import pdlp

        monkeypatch.setattr(
            pdlp, "primal_dual_hybrid_gradient", noisy(pdlp.primal_dual_hybrid_gradient)
        )
    loud = plan(economy, needs, method=solver, tol=1e-9)
    written = capfd.readouterr().out
    assert "garbage" in written  # the noise was really made, during the solve
    assert loud.status == quiet.status == "optimal"
    np.testing.assert_array_equal(loud.activity, quiet.activity)
    np.testing.assert_array_equal(loud.prices, quiet.prices)
    assert loud.total_labour == quiet.total_labour


def test_solve_rejects_an_unknown_solver():
    with pytest.raises(ValueError, match="unknown LP solver 'glpk'"):
        solve(covering_lp(), "glpk")


def test_no_solver_banner_reaches_the_terminal():
    # The banner HiGHS prints is made once per process, so only a fresh one can show it.
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_lp import covering_lp
        from councilplan.planning.lp import solve
        print("before", flush=True)
        assert solve(covering_lp(), "highs").status == "optimal"
        assert solve(covering_lp(), "pdlp").status == "optimal"
        print("after")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "before\nafter\n"
    assert "HiGHS" not in done.stderr
