"""Moved to `vsr_latent.hardware` (issue 36). Kept only while ``paper/ours_cpu.py`` still
imports it from here; delete it once that module reads `vsr_latent.hardware`."""

from vsr_latent.hardware import describe, summary

__all__ = ["describe", "summary"]
