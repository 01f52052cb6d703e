"""``python -m bench``: every figure of the benchmark suite, side by side in one run.

    .venv/bin/python -m bench [--repeat 3] [--quick] [--only 1,3] [--out FILE]

Starts the local stack if needed, runs each figure ``--repeat`` times (fresh topics and
database each time), prints one table (median, spread, ratio to the limit) and writes
the same as JSON (default ``bench/results/<UTC time>.json``) for later comparison.
``--quick`` uses small sizes: a smoke run, not a measurement.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.core import Figure, Report, lab, machine, now, summarise, table, write_json


def all_figures() -> list[Figure]:
    from bench.figures import FIGURES

    return FIGURES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median, spread)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--only", help="comma-separated figure numbers or keys, e.g. 1,2,3")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<time>.json)")
    args = parser.parse_args(argv)

    from hailong.settings import load_settings
    from infra.stack import Stack

    figures = all_figures()
    if args.only:
        wanted = {w.strip() for w in args.only.split(",")}
        figures = [f for f in figures if f.key in wanted or f.key.split("-")[0] in wanted]
    Stack(load_settings()).start(lambda _m: None)
    report = Report(started_at=now(), machine=machine(), repeat=args.repeat, quick=args.quick)
    runs: dict[str, dict[str, list[float]]] = {}
    for fig in figures:
        runs_of_fig = 1 if fig.repeats_itself else args.repeat
        for i in range(runs_of_fig):
            print(f"[{fig.key}] run {i + 1}/{runs_of_fig}: {fig.title} ...", flush=True)
            t0 = time.monotonic()
            try:
                with lab(
                    args.quick,
                    lambda m: print(f"  {m}", flush=True),
                    args.repeat if fig.repeats_itself else 1,
                ) as the_lab:
                    values = fig.run(the_lab)
            except Exception as exc:  # noqa: BLE001 - one failed figure must not end the run
                print(f"[{fig.key}] FAILED: {type(exc).__name__}: {exc}", flush=True)
                report.errors.append(f"{fig.key} run {i + 1}: {type(exc).__name__}: {exc}")
                continue
            for name, value in values.items():
                got = value if isinstance(value, list) else [value]
                runs.setdefault(fig.key, {}).setdefault(name, []).extend(got)
            shown = ", ".join(
                f"{k}={v:,.4g}"
                if not isinstance(v, list)
                else f"{k}=[{', '.join(f'{x:,.4g}' for x in v)}]"
                for k, v in values.items()
            )
            print(f"[{fig.key}] {shown} ({time.monotonic() - t0:.0f} s)", flush=True)
    report.results = summarise(figures, runs)
    print()
    print(table(report.results))
    stamp = report.started_at.replace(":", "")
    out = args.out or Path(__file__).parent / "results" / f"{stamp}.json"
    write_json(report, out)
    print(f"\nwritten: {out}")
    if report.errors:
        print("\nfailed runs:\n  " + "\n  ".join(report.errors))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
