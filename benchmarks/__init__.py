"""Benchmarks of the kernels and of the book (`make bench`).

The explorer benchmark executes every chapter in this one process, as Jupyter would in separate kernels.
Chapter 6 asks for four simulated CPU devices (``XLA_FLAGS``) in its first cell, which only takes effect
before JAX starts; so the flag is set here, before anything imports JAX.  Computations still run on the
first device, so the kernel timings are unaffected.
"""

import os

#: ``XLA_FLAGS`` as this process found it: what the builds and tests it starts (make book, make test) get, so
#: they run as they would without the benchmarks (four simulated devices change chapter 5's rounding).
ORIGINAL_XLA_FLAGS = os.environ.get("XLA_FLAGS")

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
