//! Weight dumps: `/models/{name}/weights`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::summary::{self, WeightsView};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/models/{name}/weights", get(get_weights))
}

/// The model's parameters and background statistics (never its rows).
#[utoipa::path(get, path = "/models/{name}/weights", tag = "weights",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Weights", body = WeightsView),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn get_weights(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<axum::Json<WeightsView>, ApiError> {
    let entry = state
        .registry
        .get(&name)
        .ok_or(ApiError::ModelNotFound(name))?;
    Ok(axum::Json(summary::weights(&entry)))
}
