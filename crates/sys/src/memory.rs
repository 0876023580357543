//! Locked memory for secrets (placeholder while it is written).
