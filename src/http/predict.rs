//! Predictions: `/models/{name}/predict` (and the KServe `:predict` verb through
//! `predict`).

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{Json, JsonAnswer};
use super::outputs::SpaceName;
use super::routes::{routes, Access::*, Routes};
use super::{instances, texts, AppState};
use crate::core::explain::finite;
use crate::core::models::check_space;
use crate::explainer;

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new().op(Reader, routes!(predict_model))
}

/// A prediction request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    /// Rows, as in explain requests.
    #[serde(default)]
    #[schema(value_type = Vec<crate::spec::values::Instance>)]
    pub instances: instances::Instances,
    /// Text classifiers: texts to predict, instead of `instances`.
    #[serde(default)]
    pub texts: Option<Vec<String>>,
    /// `probability` (the default wherever a link applies: class probabilities, or a
    /// Poisson model's mean count) or `raw` (margins; the only choice for regressions).
    #[serde(default)]
    pub output_space: Option<SpaceName>,
}

/// Predictions, one row of outputs per instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct PredictResponse {
    /// Model name.
    pub model: String,
    /// Model version that answered.
    pub version: u64,
    /// Space of the predictions.
    pub output_space: SpaceName,
    /// Output names, aligned with each row of `predictions`.
    pub output_names: Vec<String>,
    /// (rows × outputs).
    pub predictions: Vec<Vec<f64>>,
}

/// Predict with this model.
#[utoipa::path(post, path = "/models/{name}/predict", tag = "explain",
    params(("name" = String, Path, description = "Model name")),
    request_body = PredictRequest,
    responses(
        (status = 200, description = "Predictions", body = PredictResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Invalid instances, or instances whose prediction is not a finite number (overflow)", body = ErrorBody)))]
pub async fn predict_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(request): Json<PredictRequest>,
) -> Result<JsonAnswer<PredictResponse>, ApiError> {
    predict(state, name, request).await
}

/// Predict with the named model: the flow every predict route shares.
pub(crate) async fn predict(
    state: AppState,
    name: String,
    request: PredictRequest,
) -> Result<JsonAnswer<PredictResponse>, ApiError> {
    let entry = state.entry(&name)?;
    // "probability" means after the link: class probabilities, or the mean count of
    // a Poisson model; only an identity link has nothing to transform.
    let link = entry.built.model.as_model().link();
    let space = match request.output_space {
        Some(space) => {
            check_space(link, space.into()).map_err(|e| ApiError::InvalidInput(e.to_string()))?;
            space
        }
        None if link.transforms() => SpaceName::Probability,
        None => SpaceName::Raw,
    };
    let predictions = match request.texts {
        Some(_) if !request.instances.is_empty() => {
            return Err(ApiError::InvalidRequest(
                "send either `instances` or `texts`, not both".into(),
            ))
        }
        Some(t) => texts::predict(&state, &entry, t, space.into()).await?,
        None => {
            let x =
                instances::to_matrix(&request.instances, &entry.built, state.config.max_instances)?;
            let job = entry.clone();
            let cost = explainer::predict_cost(&entry.built, x.nrows());
            state
                .run_sized(cost, move |_| {
                    let p = job.built.model.as_model().predict(x.view(), space.into());
                    let inputs = finite::Inputs {
                        x: x.view(),
                        feature_names: &job.built.feature_names,
                        row_word: "instance",
                    };
                    finite::check_predictions(&inputs, p.view(), &job.built.output_names)
                        .map(|()| p)
                        .map_err(|e| ApiError::InvalidInput(e.to_string()))
                })
                .await??
        }
    };
    Ok(JsonAnswer(PredictResponse {
        model: entry.name.clone(),
        version: entry.version,
        output_space: space,
        output_names: entry.built.output_names.clone(),
        predictions: predictions.rows().into_iter().map(|r| r.to_vec()).collect(),
    }))
}
