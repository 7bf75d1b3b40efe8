//! Deterministic generator of realistic access logs (benchmarks and large tests).
