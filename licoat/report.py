"""``licoat report DIR``: one self-contained HTML file for a run or a sweep directory.

Images are inlined as base64 ``data:`` URIs and there are no scripts or external links, so the
file opens in any browser without a server. A run report has the warnings, the summary table
(``id="summary"``), the plating picture, the time series (transient runs) and the resolved case;
a sweep report has the results table with the ranges of ``--bands``, the failed points with
their reasons, the plots, one plating picture per point, the estimated properties and the cases.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import html
import json
import math
import sys
from pathlib import Path

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em} th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f2} td.num{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff4e5;border-left:4px solid #f0a020;padding:.5em 1em;margin:.4em 0}
.fail{background:#fdecea;border-left:4px solid #d93025;padding:.5em 1em;margin:.4em 0}
.ok{color:#137333} .meta{color:#666;font-size:.9em}
img{max-width:100%;border:1px solid #ddd;margin:.3em 0} figure{display:inline-block;margin:.5em;vertical-align:top;max-width:560px}
figcaption{font-size:.85em;color:#444} pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.8em}
details{margin:.3em 0}
"""

MAIN = [
    ("cell voltage (V)", "cell_voltage_V"),
    ("plating cv", "plating.cv"),
    ("max / mean", "plating.max_over_mean"),
    ("uniform fraction", "plating.uniform_fraction"),
    ("kinetic (V)", "overpotentials_V.kinetic"),
    ("coating ohmic (V)", "overpotentials_V.coating_ohmic"),
    ("electrolyte ohmic (V)", "overpotentials_V.electrolyte_ohmic"),
    ("concentration (V)", "overpotentials_V.concentration"),
    ("depletion time (s)", "depletion_time_s"),
    ("host top/bottom", "host.top_to_bottom_ratio"),
]


def e(x) -> str:
    return html.escape(str(x))


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, (int, float)):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def _cell(v) -> str:
    cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
    return f"<td{cls}>{e(_fmt(v))}</td>"


def img(path: Path, alt: str, caption: str | None = None) -> str:
    """A figure with the PNG inlined (base64)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    cap = f"<figcaption>{e(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{e(alt)}" src="data:image/png;base64,{data}">{cap}</figure>'


def table(header: list[str], rows: list[list], tid: str | None = None) -> str:
    idattr = f' id="{tid}"' if tid else ""
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table{idattr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str) -> str:
    import licoat

    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{e(title)}</h1>"
            f"<p class=\"meta\">licoat {e(licoat.__version__)} report, generated {now}</p>{body}</body></html>\n")


def _warnings(ws: list[str], cls: str = "warn") -> str:
    return "".join(f'<div class="{cls}">{e(w)}</div>' for w in ws)


def _timeseries_png(run: Path) -> Path | None:
    f = run / "timeseries.csv"
    if not f.exists():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(f.open()))
    if not rows:
        return None
    t = [float(r["time_s"]) for r in rows]
    cols = [c for c in rows[0] if c != "time_s"][:4]
    fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 3))
    for ax, c in zip(axes if len(cols) > 1 else [axes], cols):
        ax.plot(t, [float(r[c]) for r in rows])
        ax.set_xlabel("time (s)")
        ax.set_ylabel(c)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    png = run / "timeseries.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def run_report(run: Path) -> str:
    from licoat.plots import render_run
    from licoat.sweep import flatten

    s = json.loads((run / "summary.json").read_text())
    flat = flatten(s)
    parts = []
    if s.get("warnings"):
        parts.append("<h2>Warnings</h2>" + _warnings(s["warnings"]))
    else:
        parts.append('<p class="ok">No warnings.</p>')
    main = [[label, flat[k]] for label, k in MAIN if k in flat]
    parts.append("<h2>Summary</h2>" + table(["quantity", "value (SI)"], main, tid="summary"))
    pic = render_run(run)
    ts = _timeseries_png(run)
    if pic or ts:
        parts.append("<h2>Plating</h2>")
        if pic:
            parts.append(img(pic, "plating current density on the plating surface",
                             "plating current density on the plating surface (A/m², plating positive)"))
        if ts:
            parts.append(img(ts, "time series", "transient run: time series"))
    rest = [[k, v] for k, v in flat.items() if k != "warnings"]
    parts.append("<h2>All summary values</h2><details><summary>summary.json, flattened</summary>"
                 + table(["key", "value"], rest) + "</details>")
    if (run / "case.toml").exists():
        parts.append("<h2>Resolved case</h2><pre>" + e((run / "case.toml").read_text()) + "</pre>")
    if (run / "licoat.log").exists():
        tail = (run / "licoat.log").read_text().splitlines()[-40:]
        parts.append("<details><summary>log (last lines)</summary><pre>" + e("\n".join(tail)) + "</pre></details>")
    return page(f"licoat run: {run.name}", "".join(parts))


def sweep_report(out: Path) -> str:
    from licoat.sweep import collect

    res = collect(out)
    manifest = json.loads((out / "sweep.json").read_text())
    keys = manifest["keys"]
    bands = {(b["point"], b["metric"]): (b["low"], b["high"]) for b in res["bands"]}
    rows = res["rows"]
    parts = [f"<p>{len(rows)} point(s) over {', '.join(e(k) for k in keys)}; source: {e(manifest.get('source', ''))}; "
             f"{sum(r['status'] == 'finished' for r in rows)} finished, {len(res['failed'])} failed, "
             f"{len(res['pending'])} pending.</p>"]
    br = res.get("band_runs", {})
    if sum(br.values()):
        parts.append(f"<p>Band runs (--bands): {br['finished']} finished, {br['failed']} failed, {br['pending']} pending"
                     f"{' (ranges use the finished ones)' if br['pending'] or br['failed'] else ''}.</p>")
    if res["failed"]:
        parts.append("<h2>Failed points</h2>" + _warnings(
            [f"{f['point']}: exit {f['exit_code']}: {f['reason']}" for f in res["failed"]], "fail"))
    ws = [f"{r['point']}: {w}" for r in rows for w in str(r.get("warnings", "")).split(" | ") if w]
    if ws:
        parts.append("<h2>Warnings</h2>" + _warnings(ws))
    cols = [(label, k) for label, k in MAIN if any(isinstance(r.get(k), (int, float)) for r in rows)]
    body = []
    for r in rows:
        line = [r["point"], *[r[k] for k in keys], r["status"]]
        for _, k in cols:
            v = r.get(k, "")
            if (r["point"], k) in bands:
                lo, hi = bands[(r["point"], k)]
                v = f"{_fmt(v)} [{_fmt(lo)}, {_fmt(hi)}]"
            line.append(v)
        body.append(line)
    note = " Values in brackets: the range over the low/high estimates of the material properties below." if bands else ""
    parts.append(f"<h2>Results</h2><p>SI units.{e(note)}</p>"
                 + table(["point", *keys, "status", *[c for c, _ in cols]], body, tid="summary"))
    if manifest.get("bands"):
        parts.append("<h2>Estimated properties (ranges)</h2>" + table(
            ["key", "material", "nominal (SI)", "low", "high", "unit", "reasoning"],
            [[b["key"], b["material"], b["nominal"], b["low"], b["high"], b["unit"], b["reason"]] for b in manifest["bands"]]))
    figs = [Path(f) for f in res["figures"] if f.endswith(".png")]
    plots = [f for f in figs if f.parent.name == "plots" or f.name == "sweep.png"]
    if plots:
        parts.append("<h2>Plots</h2>" + "".join(img(f, f.stem, f.stem.replace("_", " ")) for f in plots))
    pics = [f for f in figs if f not in plots]
    if pics:
        parts.append("<h2>Plating current density, per point</h2>" + "".join(
            img(f, f"plating {f.parent.name}", f"{f.parent.name}: " + ", ".join(
                f"{k} = {next((r[k] for r in rows if r['point'] == f.parent.name), '')}" for k in keys)) for f in pics))
    cases = []
    for r in rows:
        cf = out / r["point"] / "case.toml"
        if cf.exists():
            cases.append(f"<details><summary>{e(r['point'])}</summary><pre>{e(cf.read_text())}</pre></details>")
    if cases:
        parts.append("<h2>Resolved cases</h2>" + "".join(cases))
    return page(f"licoat sweep: {out.name}", "".join(parts))


def write_report(directory: Path, html_path: Path | None = None) -> Path:
    """Write the report of a run directory (summary.json) or a sweep directory (sweep.json)."""
    d = Path(directory)
    if (d / "sweep.json").exists():
        text = sweep_report(d)
    elif (d / "summary.json").exists():
        text = run_report(d)
    else:
        raise FileNotFoundError(f"'{d}' is neither a run directory (summary.json) nor a sweep directory (sweep.json)")
    target = Path(html_path) if html_path else d / "report.html"
    tmp = target.with_name(target.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


def main_report(args) -> int:
    try:
        path = write_report(Path(args.dir), Path(args.out) if args.out else None)
    except FileNotFoundError as exc:
        print(f"licoat: {exc}", file=sys.stderr, flush=True)
        return 2
    print(f"report: {path.resolve()}", flush=True)
    return 0
