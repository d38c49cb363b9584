//! What an explain request selects besides its rows: which outputs (`output`,
//! `outputs`) and whose attributions (`group_by`, `players`).

use super::error::ApiError;
use super::outputs::{output_index, OutputRef};
use crate::explainer::{OutputChoice, Players};
use crate::registry::ModelEntry;

/// The outputs to explain, from `output` (one, by index or name) or `outputs`
/// (`"all"` or `"top:K"`); neither means each row's predicted class.
///
/// # Errors
/// [`ApiError::InvalidInput`] for both at once, an unknown output, or an `outputs`
/// that is neither `all` nor `top:K` with K between 1 and the number of outputs.
pub fn output_choice(
    entry: &ModelEntry,
    output: Option<&OutputRef>,
    outputs: Option<&str>,
) -> Result<OutputChoice, ApiError> {
    let n = entry.built.output_names.len();
    match (output, outputs) {
        (Some(_), Some(_)) => Err(ApiError::InvalidInput(
            "send `output` (one output) or `outputs` (\"all\" or \"top:K\"), not both".into(),
        )),
        (Some(r), None) => Ok(OutputChoice::Index(output_index(entry, r)?)),
        (None, None) => Ok(OutputChoice::Predicted),
        (None, Some("all")) => Ok(OutputChoice::All),
        (None, Some(other)) => match other.strip_prefix("top:").map(str::parse::<usize>) {
            Some(Ok(k)) if (1..=n).contains(&k) => Ok(OutputChoice::Top(k)),
            Some(Ok(k)) => Err(ApiError::InvalidInput(format!(
                "outputs 'top:{k}': K must be between 1 and the model's {n} output(s)"
            ))),
            _ => Err(ApiError::InvalidInput(format!(
                "unknown outputs '{other}': use \"all\" or \"top:K\" (e.g. \"top:2\"); \
                 for one output send `output`"
            ))),
        },
    }
}

/// Whose attributions to report, from `group_by` (`features` or `groups`) and
/// `players` (`features` or `groups`).
///
/// # Errors
/// [`ApiError::InvalidInput`] for another value, or for `players: groups` with
/// `group_by: features` (per-feature values do not exist when groups play).
pub fn players(group_by: Option<&str>, players: Option<&str>) -> Result<Players, ApiError> {
    let parse = |field: &str, v: Option<&str>| match v {
        None | Some("features") => Ok(false),
        Some("groups") => Ok(true),
        Some(other) => Err(ApiError::InvalidInput(format!(
            "unknown {field} '{other}': use \"features\" or \"groups\""
        ))),
    };
    let by_group = parse("group_by", group_by)?;
    match (parse("players", players)?, by_group, group_by) {
        (true, _, Some("features")) => Err(ApiError::InvalidInput(
            "players 'groups' gives one attribution per group; drop `group_by: features`".into(),
        )),
        (true, _, _) => Ok(Players::Groups),
        (false, true, _) => Ok(Players::GroupSums),
        (false, false, _) => Ok(Players::Features),
    }
}
