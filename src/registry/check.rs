//! What a registration must satisfy before anything changes: a name that is safe
//! as a file name, and a model whose outputs over its background are finite.

use super::{RegistryError, MAX_NAME_LEN};
use crate::core::explain::finite;
use crate::core::models::mlp::activations;
use crate::core::models::HostedModel;
use crate::core::CoreError;
use crate::spec::{self, BuiltModel, ModelSpec};

/// Check a model name: 1 to 128 of letters, digits, `-`, `_`, `.`, not starting with
/// a dot (so it can never name a hidden file, `.` or `..`).
///
/// # Errors
/// [`RegistryError::InvalidName`] saying which rule failed.
pub fn validate_name(name: &str) -> Result<(), RegistryError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(RegistryError::InvalidName(format!(
            "a name has 1 to {MAX_NAME_LEN} characters"
        )));
    }
    if name.starts_with('.') {
        return Err(RegistryError::InvalidName(
            "a name cannot start with '.'".into(),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(RegistryError::InvalidName(
            "use only letters, digits, '-', '_' and '.'".into(),
        ));
    }
    Ok(())
}

/// Validate a registration document into a model whose outputs over its
/// background are finite (see [`crate::core::explain::finite::check_background`]),
/// and, for networks, every layer's values too (the activation routes show them).
pub(super) fn build(spec: &ModelSpec, limits: &spec::Limits) -> Result<BuiltModel, CoreError> {
    let built = spec::build_with(spec, limits)?;
    if let Some(r) = &built.reference {
        let (features, outputs) = (&built.feature_names, &built.output_names);
        let invalid = |e: CoreError| CoreError::InvalidModel(e.to_string());
        finite::check_background(built.model.as_model(), r, features, outputs).map_err(invalid)?;
        let network = match &built.model {
            HostedModel::Mlp(m) => Some(m),
            HostedModel::Text(t) => Some(t.head()),
            HostedModel::Linear(_)
            | HostedModel::Trees(_)
            | HostedModel::Additive(_)
            | HostedModel::ExtremeTrees(_)
            | HostedModel::Normalized(_) => None,
        };
        if let Some(m) = network {
            let inputs = finite::Inputs {
                x: r.data.view(),
                feature_names: features,
                row_word: "background row",
            };
            let layers = activations::layer_activations(m, r.data.view())?;
            finite::check_layers(&inputs, &layers).map_err(invalid)?;
        }
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_the_model_dir() {
        for bad in [
            "",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "a b",
            "é",
            &"x".repeat(129),
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["house-prices", "m_1.2", "A"] {
            assert!(validate_name(good).is_ok(), "{good:?} should be accepted");
        }
    }
}
