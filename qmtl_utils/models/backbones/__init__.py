"""Backbones of the three benchmarks (Appendix B): they map raw inputs to the shared features Z of width d."""
