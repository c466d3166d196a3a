"""bench/bench_finder_regret.py's parts: the regret of training at each finder rule's suggestion against a
grid search.  The entry script's docstring describes the bench; each module here is one part of it."""
