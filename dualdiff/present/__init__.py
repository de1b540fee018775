"""Layer 6: what dualdiff shows people: evaluation traces and their worked tables."""
