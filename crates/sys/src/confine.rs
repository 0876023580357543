//! Per-process confinement (placeholder while it is written).
