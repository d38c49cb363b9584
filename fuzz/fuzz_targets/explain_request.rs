//! Any bytes as an explain request body against the demo house-price model: parsing,
//! instance conversion and the explainer must answer or refuse, never panic.
#![no_main]

use std::sync::OnceLock;

use explaind::explainer::{self, ExplainArgs, MethodOptions, OutputChoice, Players};
use explaind::spec::{self, BuiltModel};
use libfuzzer_sys::fuzz_target;

fn model() -> &'static BuiltModel {
    static MODEL: OnceLock<BuiltModel> = OnceLock::new();
    MODEL.get_or_init(|| spec::build(&explaind::demo::house_prices_spec().unwrap()).unwrap())
}

#[derive(serde::Deserialize)]
struct Body {
    instances: explaind::http::instances::Instances,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    output: Option<usize>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Body>(data) else {
        return;
    };
    let Ok(x) = explaind::http::instances::to_matrix(&body.instances, model(), 64) else {
        return;
    };
    let Ok(method) = body.method.as_deref().unwrap_or("auto").parse() else {
        return;
    };
    let args = ExplainArgs {
        method,
        output: body
            .output
            .map_or(OutputChoice::Predicted, OutputChoice::Index),
        space: explaind::core::models::OutputSpace::Raw,
        options: MethodOptions::default(),
        players: Players::Features,
        cancel: Default::default(),
    };
    let _ = explainer::explain(model(), x.view(), &args);
});
