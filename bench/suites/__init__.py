"""The benchmarks. Importing this package registers them, in `RUN_ORDER`.

To add one, write a module here that calls `bench.registry.register`, and add its name to
`RUN_ORDER`. The turn-overhead benchmark runs first, before anything else has grown the heap.
"""

import importlib

RUN_ORDER = (
    "turns",
    "turns_02_script",
    "groupchat",
    "local_executor",
    "kernel_executor",
    "gateway_executor",
    "docker_executor",
    "remote_exec",
    "concurrency",
    "runtime",
    "pool",
    "dispatch",
    "cache",
    "import_time",
)

for _module in RUN_ORDER:
    importlib.import_module(f"bench.suites.{_module}")
