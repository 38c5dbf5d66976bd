"""The end of ``make demo``: the default case (a ZnO-coated Cu fibre host) next to the bare host.

    python -m licoat.demo results/default results/default_bare
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    coated, bare = (Path(a) for a in (argv or sys.argv[1:])[:2])
    rows = [("30 nm ZnO (lithiophilic)", coated), ("bare Cu", bare)]
    print("Where Li plates in a 100 um Cu fibre host at 2 mA/cm^2 (steady current distribution):")
    print(f"  {'host surface':26s} {'top/bottom third':>17s} {'cv':>7s} {'cell voltage':>13s}")
    for name, d in rows:
        s = json.loads((d / "summary.json").read_text())
        print(f"  {name:26s} {s['host']['top_to_bottom_ratio']:17.3f} {s['plating']['cv']:7.3f} "
              f"{s['cell_voltage_V'] * 1e3:10.1f} mV")
    print(f"picture: {coated / 'plating.png'}\nreport:  {coated / 'report.html'}\n"
          f"fields:  {coated / 'fields' / 'solution.bp'} (ParaView)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
