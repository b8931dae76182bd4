"""convstore's benchmark suite (run ``python -m benchmarks --help``)."""
