"""Side-by-side comparison: alternate ``throughput.py`` runs of an earlier commit and of the working tree.

The shared machine's speed drifts by a factor of two within minutes, so a figure measured now compares
only with one measured next to it. This script checks the earlier commit out into a temporary git
worktree, copies this tree's ``bench/throughput.py`` into it (both sides are measured the same way; only
the application differs), then runs the two alternately, ``--pairs`` times, and prints each pair and the
median of the pairs' ratios.

    .venv/bin/python bench/alternate.py --base 1a47553 --pairs 4 [-- --consignments 50 ...]

A developer's tool next to ``throughput.py``: it asserts nothing and is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# (label, key in throughput.py's --json figures, format)
COLUMNS = (
    ("(b)/s", "b_per_s", "{:.1f}"),
    ("ratio", "ratio", "{:.3f}"),
    ("median ms", "median_ms", "{:.1f}"),
    ("p95 ms", "p95_ms", "{:.1f}"),
    ("quiet ms", "quiet_median_ms", "{:.1f}"),
    ("CPU ms", "cpu_all", "{:.2f}"),
)


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def measure(tree: Path, extra: list[str], out: Path) -> dict[str, Any]:
    """One throughput.py run in ``tree`` (its own app package and processes); its --json figures."""
    command = [sys.executable, str(tree / "bench" / "throughput.py"), "--json", str(out), *extra]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"throughput.py failed in {tree}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    figures = json.loads(out.read_text(encoding="utf-8"))
    figures["cpu_all"] = figures["cpu_ms_per_completion"].get("all", float("nan"))
    return figures


def row(label: str, figures: dict[str, Any]) -> str:
    cells = "".join(f"{fmt.format(figures[key]):>12}" for _, key, fmt in COLUMNS)
    return f"  {label:10}{cells}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the earlier commit (anything git rev-parse takes)")
    parser.add_argument("--pairs", type=int, default=3, help="alternating pairs of runs (default 3)")
    parser.add_argument("extra", nargs="*", help="arguments for throughput.py, after --")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    try:
        base = git("rev-parse", "--verify", f"{args.base}^{{commit}}")
    except subprocess.CalledProcessError:
        parser.error(f"--base: no commit {args.base!r} in this repository")

    work = Path(tempfile.mkdtemp(prefix="portal-alternate-"))
    tree = work / "base"
    git("worktree", "add", "--detach", str(tree), base)
    try:
        shutil.copy2(ROOT / "bench" / "throughput.py", tree / "bench" / "throughput.py")
        head = git("rev-parse", "--short", "HEAD") + (" + changes" if git("status", "--porcelain") else "")
        print(f"base {base[:7]} against the working tree ({head}); throughput.py {' '.join(args.extra)}")
        print(f"  {'':10}" + "".join(f"{label:>12}" for label, _, _ in COLUMNS))
        pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for number in range(1, args.pairs + 1):
            before = measure(tree, args.extra, work / "base.json")
            after = measure(ROOT, args.extra, work / "head.json")
            pairs.append((before, after))
            print(f"pair {number}")
            print(row("base", before))
            print(row("this tree", after))
        print("median of the pairs' ratios, this tree / base:")
        cells = ""
        for _, key, _ in COLUMNS:
            ratios = [a[key] / b[key] for b, a in pairs if b[key]]
            cells += f"{statistics.median(ratios):>12.2f}" if ratios else f"{'-':>12}"
        print(f"  {'':10}{cells}")
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
