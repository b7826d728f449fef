"""Benchmarks for the lab's own tools: is the load client, the tracing and the lag probe
honest, and do the notebooks run in a reasonable time at full size?

Run them with ``make bench`` (``python -m benchmarks.run``); results overwrite
``docs/benchmarks.md``. They are not part of ``make test``: timings on a shared machine are
too noisy to pass or fail a build on.
"""
