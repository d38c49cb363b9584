//! Weight dumps: `/models/{name}/weights`.

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use super::extract::Query;
use super::routes::{routes, Access::*, Routes};
use super::AppState;
use crate::summary::{self, TreePage, WeightsView, DEFAULT_TREE_PAGE, MAX_TREE_PAGE};

/// Routes of this module.
pub fn router() -> Routes {
    Routes::new().op(Admin, routes!(get_weights))
}

/// Which trees of a tree ensemble to include (other kinds ignore these).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WeightsQuery {
    /// Just this tree (an index).
    #[param(minimum = 0)]
    pub tree: Option<usize>,
    /// Index of the first tree (default 0).
    pub offset: Option<usize>,
    /// Most trees (default 10, at most 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
}

impl WeightsQuery {
    fn page(&self) -> Result<TreePage, ApiError> {
        if self.tree.is_some() && (self.offset.is_some() || self.limit.is_some()) {
            return Err(ApiError::InvalidInput(
                "give either tree or offset/limit, not both".into(),
            ));
        }
        let (offset, limit) = match self.tree {
            Some(t) => (t, 1),
            None => (
                self.offset.unwrap_or(0),
                self.limit.unwrap_or(DEFAULT_TREE_PAGE),
            ),
        };
        if limit == 0 || limit > MAX_TREE_PAGE {
            return Err(ApiError::InvalidInput(format!(
                "limit must be between 1 and {MAX_TREE_PAGE}"
            )));
        }
        Ok(TreePage { offset, limit })
    }
}

/// The model's parameters and background statistics (never its rows).
#[utoipa::path(get, path = "/models/{name}/weights", tag = "weights",
    params(("name" = String, Path, description = "Model name"), WeightsQuery),
    responses(
        (status = 200, description = "Weights", body = WeightsView),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "Bad paging parameters, or a tree beyond the last", body = ErrorBody)))]
pub async fn get_weights(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<WeightsQuery>,
) -> Result<axum::Json<WeightsView>, ApiError> {
    let entry = state.entry(&name)?;
    let page = query.page()?;
    if let crate::core::models::HostedModel::Trees(m) = &entry.built.model {
        if page.offset >= m.trees().len() && query.tree.is_some() {
            return Err(ApiError::InvalidInput(format!(
                "tree {} does not exist: the model has {} trees",
                page.offset,
                m.trees().len()
            )));
        }
    }
    Ok(axum::Json(summary::weights(&entry.as_version(), page)))
}
