"""Benchmarks: ``registry_widgets`` against the tools people use instead, side by side.

``python -m benchmarks`` (``make bench``) starts its own registries (temporary storage, free
ports), runs every scenario a few times, and prints a Markdown table of medians with ratios
against the peer tool, the machine and the versions; the table also goes to
``benchmarks/results/latest.md`` (and ``latest.json``). ``--quick`` shrinks every size and
runs once: a smoke test of the scripts, not a measurement.

Modules: ``harness`` (settings, timing, fresh registries, commands), ``seed`` (the images),
``copy_bench`` (scenarios 1 and 2), ``memory_bench`` (3), ``inventory_bench`` (4),
``widgets_bench`` (5), ``sync_bench`` (7), ``latency_bench`` (9: a listing over TLS through
``latency_proxy``, which delays every chunk 50 ms each way), ``report`` (rows, targets,
machine, Markdown and JSON).

Imports ``registry_widgets`` (the verbs under test), ``devstack`` (the
registries) and ``tests.support`` (the raw-HTTP image pushes the tests use as their oracle;
run from the repository root); the package never imports this one.
"""
