"""Carrying out runs: the executor and its run loop, claims on runs, liveness of their owners, recovery.

Modules, from the bottom up:

* ``liveness`` — which process executes a run, whether it still lives, killing what it left behind.
* ``claims`` — the fenced right to write one run's state, held by one execution of it.
* ``recovery`` — finding runs whose executing process died and taking them over.
* ``run_loop`` — one execution of one run: start ready nodes, record what runners report.
* ``executor`` — creates runs and executes them against one graph.
"""
