use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/triggers/{name}`: what the target receives as `data`. Nothing else is
/// accepted: the target, method and headers come from the configuration only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FireTrigger {
    /// Any JSON (`null` when absent).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A sync trigger: `success` is whether the target answered 2xx, `status` its status,
/// `result` its answer (its JSON, or its text). An async trigger: `202` with `success: true`
/// and the call's `id` (the target receives the same `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TriggerResult {
    pub success: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}
