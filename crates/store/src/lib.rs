//! Custos store (placeholder, being written).
#![forbid(unsafe_code)]
