//! The on-request quality scores of explanations.

use ndarray::{ArrayView2, Axis};

use super::{explain, reference, ExplainArgs, MethodOptions, OutputChoice, Players};
use crate::core::explain::groups::FeatureGroups;
use crate::core::explain::sampling;
use crate::core::explain::{quality, Explanation, Method};
use crate::core::CoreResult;
use crate::spec::BuiltModel;

/// Add the on-request quality scores (deletion and insertion curves, faithfulness
/// correlation, max-sensitivity) to each explanation. Max-sensitivity re-runs the
/// same method, with the same seed, on perturbed copies of the row.
pub(super) fn score_quality(
    model: &BuiltModel,
    x: ArrayView2<f64>,
    method: Method,
    args: &ExplainArgs,
    explanations: &mut [Explanation],
) -> CoreResult<()> {
    let reference = reference(model, method)?;
    let m = model.model.as_model();
    let background = sampling::background(
        reference,
        quality::SCORING_BACKGROUND,
        args.options.sampling.seed,
    );
    let groups = match (args.players, &model.groups) {
        (Players::Groups, Some(g)) => g.groups.clone(),
        _ => FeatureGroups::singletons(m.n_features()),
    };
    // Scores compare per-player attributions: group sums come after them.
    let single = ExplainArgs {
        options: MethodOptions {
            full_quality: false,
            ..args.options.clone()
        },
        players: match args.players {
            Players::GroupSums => Players::Features,
            p => p,
        },
        ..args.clone()
    };
    for (row, e) in x.axis_iter(Axis(0)).zip(explanations.iter_mut()) {
        args.cancel.check()?;
        let subject = quality::Subject {
            model: m,
            background: background.view(),
            x: row,
            output: e.output,
            space: args.space,
            groups: &groups,
        };
        let rerun = |r: ndarray::ArrayView1<f64>| -> CoreResult<Vec<f64>> {
            let one = ExplainArgs {
                output: OutputChoice::Index(e.output),
                ..single.clone()
            };
            let mut answer = explain(model, r.insert_axis(Axis(0)), &one)?;
            Ok(answer.explanations.remove(0).attributions)
        };
        e.quality.scores = Some(quality::score(
            &subject,
            &e.attributions,
            reference,
            &rerun,
        )?);
    }
    Ok(())
}
