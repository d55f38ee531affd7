"""The benchmark of the worker's throughput and latency (`python -m bench --help`)."""
