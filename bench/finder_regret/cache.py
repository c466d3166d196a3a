"""The bench's cache in bench/results/finder-regret/: sweeps.json and JSON-lines trainings, filled by worker
processes where rows are missing (``--cached`` refuses to train)."""

from __future__ import annotations

import gzip
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .tasks import EVERY_TASK, OPTIMIZERS, SEEDS, key
from .training import sweep_one, train_one

CACHE = Path(__file__).resolve().parents[1] / "results" / "finder-regret"
TRAININGS = CACHE / "trainings.jsonl.gz"  # compressed: thousands of rows, kept small in git


def load_cache():
    sweeps = json.loads((CACHE / "sweeps.json").read_text()) if (CACHE / "sweeps.json").exists() else {}
    return sweeps, load_rows(TRAININGS)


def run_jobs(fn, jobs, workers, on_result):
    if not jobs:
        return
    if workers <= 1:
        for job in jobs:
            on_result(fn(job))
        return
    with ProcessPoolExecutor(workers) as pool:
        for row in pool.map(fn, jobs, chunksize=1):
            on_result(row)


def ensure_sweeps(sweeps, workers, cached):
    jobs = [(t, o, s) for t in EVERY_TASK for o in OPTIMIZERS for s in SEEDS if f"{t}|{o}|{s}" not in sweeps]
    if jobs and cached:
        raise SystemExit(f"--cached: {len(jobs)} sweeps are missing from {CACHE}")

    def keep(row):
        sweeps[row.pop("key")] = row
        (CACHE / "sweeps.json").write_text(json.dumps(sweeps))
        print(f"  sweep {len(sweeps)}", flush=True)

    run_jobs(sweep_one, jobs, workers, keep)


def open_rows(path: Path, mode: str):
    """A JSON-lines cache file, gzip-compressed where its name ends in .gz (appending adds a gzip member, which
    reading joins to the others)."""
    return gzip.open(path, mode + "t", encoding="utf-8") if path.suffix == ".gz" else open(path, mode)


def load_rows(path: Path) -> dict:
    """A JSON-lines cache as {row["key"]: row}; empty where the file is not there yet."""
    if not path.exists():
        return {}
    with open_rows(path, "r") as f:
        return {row["key"]: row for row in map(json.loads, f.read().splitlines()) if row}


def ensure_rows(fn, jobs, rows: dict, path: Path, workers, cached, what):
    """Run ``fn`` on every job whose key(*job) ``rows`` lacks, appending each result to ``path`` as it comes."""
    missing = sorted({j for j in jobs if key(*j) not in rows})
    if not missing:
        return
    if cached:
        raise SystemExit(f"--cached: {len(missing)} runs ({what}) are missing from {path}")
    print(f"training {len(missing)} runs ({what})", flush=True)
    t0 = time.perf_counter()
    done = [0]
    with open_rows(path, "a") as f:
        def keep(row):
            rows[row["key"]] = row
            f.write(json.dumps(row) + "\n")
            f.flush()
            done[0] += 1
            if done[0] % 20 == 0 or done[0] == len(missing):
                print(f"  {done[0]}/{len(missing)} ({time.perf_counter() - t0:.0f} s)", flush=True)

        run_jobs(fn, missing, workers, keep)


def ensure_trainings(jobs, trainings, workers, cached, what):
    ensure_rows(train_one, jobs, trainings, TRAININGS, workers, cached, what)
