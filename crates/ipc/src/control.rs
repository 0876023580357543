//! Messages between the supervisor and its network-facing children (bridge, pool).

use serde::{Deserialize, Serialize};

/// What the supervisor asks of a child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlRequest {
    /// Report health.
    Health,
}

/// A child's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ControlResponse {
    /// Health report.
    Health(ComponentHealth),
}

/// Health of one component, as reported by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentHealth {
    /// Component name ("bridge", "pool", "signer").
    pub component: String,
    /// Whether it can do its job.
    pub ok: bool,
    /// Short explanation.
    pub detail: String,
}
