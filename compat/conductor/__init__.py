"""Conductor scheduler API (conductor-python SDK 2.0.0), wire-compatible.

Mounted at /api/scheduler/..., /api/token and /api/workflow. Thin adapters over
schedules.services and jobruns.services; see /work/shared/specs/conductor.md
and the decisions in specs/README.md.
"""
