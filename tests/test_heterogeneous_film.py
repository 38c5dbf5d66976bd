"""Heterogeneous thin films: a log-normal random conductivity kappa_c k(x), E[k] = 1.

* The field (meshes.defects.lognormal_factor, random Fourier features of a Gaussian covariance,
  Rahimi and Recht, NIPS 2007): ln k has mean -sigma^2/2 and variance sigma^2, and the correlation of
  ln k at lag l is exp(-1/2); the same seed gives the same field, another seed another one.
* Film-dominated limit: where the film's ASR is far larger than the electrolyte's spreading resistance
  over a correlation length (l/kappa_e), the current cannot redistribute and follows the film's local
  conductance: j(x) = i_mean k(x)/<k> (parallel resistors), so the plating cv equals the cv of k over
  the surface, and the film drop is i_mean t / (kappa_c <k>).
"""

import numpy as np
import pytest
from mpi4py import MPI

from helpers import constant_electrolyte, planar
from licoat.case import CaseError, validate
from licoat.meshes.defects import asr_field, lognormal_factor
from licoat.solver.electrochemistry import SolverOptions, SteadyCell
from licoat.solver.metrics import integrate
from licoat.solver.properties import Coating, Kinetics, Operation


def test_lognormal_field_statistics_and_seed():
    ell, sigma = 1e-6, 0.8
    k = lognormal_factor(dict(sigma=sigma, correlation_length=ell, seed=4, modes=2048), 3)
    rng = np.random.default_rng(0)
    x = np.zeros((40000, 3))
    x[:, :2] = rng.uniform(0, 400 * ell, size=(40000, 2))
    lnk = np.log(k(x))
    assert lnk.mean() == pytest.approx(-sigma**2 / 2, abs=0.05)
    assert lnk.std() == pytest.approx(sigma, rel=0.05)
    shifted = x.copy()
    shifted[:, 0] += ell
    rho = np.corrcoef(lnk, np.log(k(shifted)))[0, 1]
    assert rho == pytest.approx(np.exp(-0.5), abs=0.05)
    again = lognormal_factor(dict(sigma=sigma, correlation_length=ell, seed=4, modes=2048), 3)
    other = lognormal_factor(dict(sigma=sigma, correlation_length=ell, seed=5, modes=2048), 3)
    assert np.array_equal(again(x[:100]), k(x[:100])) and not np.allclose(other(x[:100]), k(x[:100]))


def test_film_dominated_current_follows_the_conductivity():
    comm = MPI.COMM_WORLD
    t, kc, ell = 10e-9, 1e-6, 4e-6  # film ASR 1e-2 Ohm m^2 >> l/kappa_e = 4e-6 Ohm m^2
    tm = planar(comm, width=40e-6, L=10e-6, h=0.5e-6, t=t, model="thin")
    k = lognormal_factor(dict(sigma=0.5, correlation_length=ell, seed=2), 2)
    coat = Coating("film", t, kc, "thin", asr_field=asr_field(None, t / kc, film_factor=k))
    cell = SteadyCell(comm, tm, constant_electrolyte(diffusivity=1e-3), Kinetics(1e5, 0.5, 0.5, 0.0, form="linear"),
                      Operation("galvanostatic", 10.0, None, 298.15), coating=coat, length_scale=10e-6,
                      options=SolverOptions(linear_solver="direct"))
    cell.solve()
    # the conductance factor on the surface, as the film sees it: t/kappa_c / ASR field
    asr = coat.asr_field(cell.tm)
    (s,) = cell.surfaces
    ds = cell.sm[s]
    g = (t / kc) / asr
    area = cell.area_S
    g_mean = integrate(comm, g * ds) / area
    cv_g = np.sqrt(integrate(comm, (g - g_mean) ** 2 * ds) / area) / g_mean
    j = cell.plating_current[s]
    j_mean = integrate(comm, j * ds) / area
    cv_j = np.sqrt(integrate(comm, (j - j_mean) ** 2 * ds) / area) / j_mean
    assert cv_g > 0.2  # a genuinely heterogeneous film
    assert cv_j == pytest.approx(cv_g, rel=0.03)
    # parallel resistors: mean film drop = i t / (kappa_c <k>)  (psi - phi is the film drop; cell.fields has phi)
    drop = integrate(comm, j * asr * ds) / area
    assert drop == pytest.approx(j_mean * (t / kc) / g_mean, rel=0.03)


def test_heterogeneity_case_keys():
    c = validate({"coating": {"material": "LiPON", "thickness": "10 nm", "model": "thin",
                              "heterogeneity": {"sigma": 1, "correlation_length": "2 um", "seed": 3}}})
    assert c.coating.heterogeneity.correlation_length == pytest.approx(2e-6)
    for bad, key in [({"material": "LiPON", "thickness": "10 nm", "model": "resolved"}, "thin films only"),
                     ({"material": "none"}, "coating.heterogeneity"),
                     ({"material": "LiPON", "thickness": "10 nm", "model": "thin", "sigma_bad": 1}, "sigma_bad")]:
        het = {"sigma": 1, "correlation_length": "2 um"}
        with pytest.raises(CaseError, match=key):
            validate({"coating": {**bad, "heterogeneity": het}})
