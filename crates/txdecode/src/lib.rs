//! Custos transaction decoder (placeholder, being written).
#![forbid(unsafe_code)]
