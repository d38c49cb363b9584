//! Server-side caps on the budgets a request may ask for: the sample budget of the
//! sampling explainers, exact_shapley's players, integrated gradients' steps and
//! the background size. Each is a server flag (the configuration builds the caps);
//! a request above one is refused with a message that names the field, the cap and
//! the flag.

use super::{ExplainArgs, Players};
use crate::core::explain::sampling::SamplingParams;
use crate::core::explain::Method;
use crate::core::{CoreError, CoreResult};
use crate::spec::BuiltModel;

/// The caps of a configuration.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Largest `n_samples` (`--max-samples`).
    pub max_samples: usize,
    /// Most players exact_shapley enumerates (`--max-exact-players`).
    pub max_exact_players: usize,
    /// Largest integrated-gradients `steps` (`--max-ig-steps`).
    pub max_ig_steps: usize,
    /// Largest `max_background` (`--max-background`).
    pub max_background: usize,
}

impl Caps {
    /// Check an explanation of `model` with `args` against the caps.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] naming the field, the cap and its flag.
    pub fn check(&self, model: &BuiltModel, args: &ExplainArgs) -> CoreResult<()> {
        self.check_sampling(&args.options.sampling)?;
        let steps = args.options.ig.steps;
        if steps > self.max_ig_steps {
            return Err(above("steps", steps, self.max_ig_steps, "max-ig-steps"));
        }
        if args.method == Method::ExactShapley {
            let players = match (args.players, &model.groups) {
                (Players::Groups, Some(g)) => g.groups.len(),
                _ => model.feature_names.len(),
            };
            if players > self.max_exact_players {
                return Err(above(
                    "exact_shapley players (features or groups)",
                    players,
                    self.max_exact_players,
                    "max-exact-players",
                ));
            }
        }
        Ok(())
    }

    /// Check the budgets of a sampling explainer against the caps.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] naming the field, the cap and its flag.
    pub fn check_sampling(&self, params: &SamplingParams) -> CoreResult<()> {
        match params.n_samples {
            Some(0) => {
                return Err(CoreError::InvalidArgument(format!(
                    "n_samples = 0: ask for at least 1 and at most this server's cap of {} ({})",
                    self.max_samples,
                    flag_and_env("max-samples")
                )))
            }
            Some(n) if n > self.max_samples => {
                return Err(above("n_samples", n, self.max_samples, "max-samples"));
            }
            Some(_) | None => {}
        }
        if let Some(k) = params.kmeans.filter(|&k| k > self.max_background) {
            return Err(above(
                "background.kmeans",
                k,
                self.max_background,
                "max-background",
            ));
        }
        if let Some(n) = params.max_background.filter(|&n| n > self.max_background) {
            return Err(above(
                "max_background",
                n,
                self.max_background,
                "max-background",
            ));
        }
        Ok(())
    }
}

/// The refusal of `field = value` above `cap`, set by flag `--flag`.
fn above(field: &str, value: usize, cap: usize, flag: &str) -> CoreError {
    CoreError::InvalidArgument(format!(
        "{field} = {value} is above this server's cap of {cap} ({}); ask for less",
        flag_and_env(flag)
    ))
}

/// `--flag / EXPLAIND_FLAG`: how an operator sets a cap.
fn flag_and_env(flag: &str) -> String {
    let env = format!("EXPLAIND_{}", flag.to_uppercase().replace('-', "_"));
    format!("--{flag} / {env}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_field_the_cap_and_the_flag() {
        let caps = Caps {
            max_samples: 100_000,
            max_exact_players: 16,
            max_ig_steps: 2048,
            max_background: 1000,
        };
        let params = SamplingParams {
            n_samples: Some(caps.max_samples + 1),
            ..SamplingParams::default()
        };
        let message = caps.check_sampling(&params).unwrap_err().to_string();
        assert!(message.contains("n_samples"), "{message}");
        assert!(message.contains(&caps.max_samples.to_string()), "{message}");
        assert!(
            message.contains("--max-samples / EXPLAIND_MAX_SAMPLES"),
            "{message}"
        );
        let at_cap = SamplingParams {
            n_samples: Some(caps.max_samples),
            ..SamplingParams::default()
        };
        assert!(caps.check_sampling(&at_cap).is_ok());
    }
}
