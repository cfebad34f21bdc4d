// Benchmarks land here.
