"""Physical constants (CODATA 2018), SI units."""

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
LI_MOLAR_VOLUME = 6.94e-3 / 534.0  # m^3/mol, M/rho of Li metal
