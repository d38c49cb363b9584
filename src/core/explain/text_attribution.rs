//! Word attributions for text classifiers: integrated gradients on the embeddings and
//! occlusion. Unknown words are skipped by the model, so they get no attribution and
//! are listed apart in [`TextExplanation::unknown`].
//!
//! **Integrated gradients** (Sundararajan, Taly and Yan 2017) on the token embeddings
//! `e_1 … e_n` from the all-zero embedding baseline: the pooled vector along the path
//! is `α ē` with `ē = (1/n) Σ e_t`, and ∂pooled/∂e_t = 1/n, so token t receives
//! `φ_t = (1/n) e_t · ∫₀¹ ∇f(α ē) dα`. The φ_t sum to f(ē) − f(0) up to the
//! quadrature error, reported as `convergence_delta`; the base value is f(0), the
//! prediction for a text with no known word. These are the values Captum's
//! `LayerIntegratedGradients` on the embedding layer gives with a zero baseline.
//!
//! **Occlusion** (Zeiler and Fergus 2014, "Visualizing and Understanding Convolutional
//! Networks", ECCV; applied to words by leaving each out): `φ_t = f(text) − f(text
//! without occurrence t)`. With mean pooling, removing a word also changes the
//! denominator, and the values do not add up; the base value is the empty text's
//! prediction and the additivity residual is reported as computed. The text without
//! occurrence t pools to `(S − e_t) / (n − 1)`, with `S` the sum of the n known
//! words' embeddings (zeros when t was the only one), so all n leave-one-out vectors
//! cost one pass over the text rather than one pass each.

use ndarray::{Array1, Array2, Axis};
use serde::Serialize;

use super::integrated_gradients::IgOptions;
use super::Quality;
use crate::core::models::text::{TextClassifier, Token};
use crate::core::models::{check_space, Differentiable, Model, OutputSpace};
use crate::core::{Cancel, CoreError, CoreResult};

/// One known word and its share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenAttribution {
    /// The word and where it is in the text.
    pub token: Token,
    /// Its attribution, in output units of the explained space.
    pub attribution: f64,
}

/// The attribution of one text's output to its words.
#[derive(Debug, Clone, PartialEq)]
pub struct TextExplanation {
    /// Index of the output explained.
    pub output: usize,
    /// The prediction for the text, in the explained space.
    pub prediction: f64,
    /// The prediction for a text with no known word.
    pub base_value: f64,
    /// One entry per known word occurrence, in text order.
    pub tokens: Vec<TokenAttribution>,
    /// Words outside the vocabulary, skipped by the model.
    pub unknown: Vec<Token>,
    /// How exact these numbers are.
    pub quality: Quality,
}

impl TextExplanation {
    fn new(output: usize, prediction: f64, base_value: f64, tokens: Vec<TokenAttribution>) -> Self {
        let sum: f64 = tokens.iter().map(|t| t.attribution).sum();
        TextExplanation {
            output,
            prediction,
            base_value,
            tokens,
            unknown: Vec::new(),
            quality: Quality {
                additivity_residual: prediction - base_value - sum,
                ..Quality::default()
            },
        }
    }
}

fn check_output(model: &TextClassifier, output: usize) -> CoreResult<()> {
    let n = model.head().n_outputs();
    if output >= n {
        return Err(CoreError::InvalidArgument(format!(
            "output {output} out of range: the model has {n} output(s)"
        )));
    }
    Ok(())
}

/// Integrated gradients of output `output` of `text` over its known words.
/// `options.baseline` must be `None`: the baseline is the zero embedding.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for an output out of range, probability space on a
/// regression head, bad steps, or a baseline given.
pub fn integrated_gradients(
    model: &TextClassifier,
    text: &str,
    output: usize,
    space: OutputSpace,
    options: &IgOptions,
) -> CoreResult<TextExplanation> {
    check_output(model, output)?;
    if options.baseline.is_some() {
        return Err(CoreError::InvalidArgument(
            "text integrated gradients start from the zero embedding; give no baseline".into(),
        ));
    }
    let (alphas, weights) = options.rule.nodes(options.steps)?;
    let tokenized = model.tokenize(text);
    let pooled = model.pool(&tokenized.known);
    let dim = pooled.len();
    let mut path = Array2::zeros((alphas.len(), dim));
    for (mut row, &a) in path.axis_iter_mut(Axis(0)).zip(&alphas) {
        row.assign(&(&pooled * a));
    }
    let grads = model.head().gradient(path.view(), output, space)?;
    let mean_grad = Array1::from(weights).dot(&grads);
    let ends = Array2::from_shape_vec((2, dim), [vec![0.0; dim], pooled.to_vec()].concat())
        .map_err(|e| CoreError::InvalidArgument(e.to_string()))?;
    let f = model.head().predict(ends.view(), space);
    let n = tokenized.known.len().max(1) as f64;
    let embeddings = model.token_embeddings(&tokenized.known);
    let tokens = tokenized
        .known
        .into_iter()
        .zip(embeddings.axis_iter(Axis(0)))
        .map(|(token, e)| TokenAttribution {
            token,
            attribution: e.dot(&mean_grad) / n,
        })
        .collect();
    let mut answer = TextExplanation::new(output, f[[1, output]], f[[0, output]], tokens);
    answer.unknown = tokenized.unknown;
    answer.quality.convergence_delta = Some(-answer.quality.additivity_residual);
    answer.quality.samples = Some(alphas.len());
    Ok(answer)
}

/// Occlusion of each known word occurrence of `text` for output `output`, in time
/// linear in the text's length (module doc); `cancel` is checked every few hundred
/// words.
///
/// # Errors
/// [`CoreError::InvalidArgument`] for an output out of range or probability space on
/// a regression head; [`CoreError::Cancelled`] once `cancel` is tripped.
pub fn occlusion(
    model: &TextClassifier,
    text: &str,
    output: usize,
    space: OutputSpace,
    cancel: &Cancel,
) -> CoreResult<TextExplanation> {
    check_output(model, output)?;
    let head = model.head();
    check_space(head.link(), space)?;
    let tokenized = model.tokenize(text);
    let known = &tokenized.known;
    // Row 0: the whole text; row 1: no known word; row 2 + t: without occurrence t,
    // the mean of the others, (S − e_t) / (n − 1); zeros when there are none.
    let embeddings = model.token_embeddings(known);
    let mut pooled = Array2::zeros((known.len() + 2, embeddings.ncols()));
    pooled.row_mut(0).assign(&model.pool(known));
    if known.len() > 1 {
        let sum = embeddings.sum_axis(Axis(0));
        let others = (known.len() - 1) as f64;
        for (t, e) in embeddings.axis_iter(Axis(0)).enumerate() {
            if t % 256 == 0 {
                cancel.check()?;
            }
            pooled.row_mut(t + 2).assign(&((&sum - &e) / others));
        }
    }
    let f = head.predict(pooled.view(), space);
    let full = f[[0, output]];
    let tokens = known
        .iter()
        .enumerate()
        .map(|(t, token)| TokenAttribution {
            token: token.clone(),
            attribution: full - f[[t + 2, output]],
        })
        .collect();
    let mut answer = TextExplanation::new(output, full, f[[1, output]], tokens);
    answer.unknown = tokenized.unknown;
    answer.quality.samples = Some(known.len() + 2);
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::mlp::tests::layer;
    use crate::core::models::mlp::MlpParams;
    use crate::core::models::text::TextClassifierParams;
    use approx::assert_abs_diff_eq;

    /// good = (1, 0), bad = (−1, 0), movie = (0, 1), the = (0.5, 0.5); `head` maps 2 → 1.
    fn classifier(head: Vec<crate::core::models::mlp::LayerParams>) -> TextClassifier {
        TextClassifierParams {
            vocabulary: ["good", "bad", "movie", "the"].map(String::from).to_vec(),
            embeddings: vec![
                vec![1.0, 0.0],
                vec![-1.0, 0.0],
                vec![0.0, 1.0],
                vec![0.5, 0.5],
            ],
            head: MlpParams {
                layers: head,
                scaler: None,
                input_shape: None,
            },
        }
        .validate()
        .unwrap()
    }

    fn linear() -> TextClassifier {
        // f(p) = 2 p0 − p1 + 0.5.
        classifier(vec![layer(
            vec![vec![2.0], vec![-1.0]],
            vec![0.5],
            "identity",
        )])
    }

    fn nonlinear() -> TextClassifier {
        classifier(vec![
            layer(
                vec![vec![1.5, -0.5], vec![0.3, 2.0]],
                vec![0.1, -0.2],
                "tanh",
            ),
            layer(vec![vec![2.0], vec![-1.0]], vec![0.3], "sigmoid"),
        ])
    }

    #[test]
    fn tokenizer_lowercases_skips_unknown_words_and_keeps_offsets() {
        let m = linear();
        let t = m.tokenize("The GOOD, good movie!! xyz");
        let words: Vec<&str> = t.known.iter().map(|k| k.text.as_str()).collect();
        assert_eq!(words, vec!["the", "good", "good", "movie"]);
        assert_eq!((t.known[1].start, t.known[1].end), (4, 8));
        assert_eq!(t.unknown.len(), 1);
        assert_eq!(t.unknown[0].text, "xyz");
        assert_eq!(t.unknown[0].id, None);
    }

    #[test]
    fn integrated_gradients_on_a_linear_head_are_exact_shares() {
        // With f linear, ∇f = w, so φ_t = e_t · w / n and Σφ = f(ē) − f(0) exactly.
        // "good movie": φ_good = 2/2 = 1, φ_movie = −1/2, f(ē) = 1 − 0.5 + 0.5 = 1.
        let m = linear();
        let e = integrated_gradients(
            &m,
            "good movie unseen",
            0,
            OutputSpace::Raw,
            &IgOptions::default(),
        )
        .unwrap();
        assert_abs_diff_eq!(e.tokens[0].attribution, 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(e.tokens[1].attribution, -0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(e.prediction, 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(e.base_value, 0.5, epsilon = 1e-12);
        assert_eq!(e.unknown[0].text, "unseen");
        assert_abs_diff_eq!(e.quality.convergence_delta.unwrap(), 0.0, epsilon = 1e-12);
    }

    #[test]
    fn integrated_gradients_are_complete_on_a_nonlinear_head() {
        let m = nonlinear();
        let e = integrated_gradients(
            &m,
            "the good good bad movie",
            0,
            OutputSpace::Probability,
            &IgOptions::default(),
        )
        .unwrap();
        let p = m.predict_texts(&["the good good bad movie"], OutputSpace::Probability);
        assert_abs_diff_eq!(e.prediction, p[[0, 0]], epsilon = 1e-15);
        assert!(e.quality.convergence_delta.unwrap().abs() < 1e-10);
        // Both occurrences of "good" get the same share.
        assert_eq!(e.tokens[1].attribution, e.tokens[2].attribution);
    }

    #[test]
    fn occlusion_is_the_drop_when_a_word_is_left_out() {
        let m = nonlinear();
        let e = occlusion(&m, "good bad movie", 0, OutputSpace::Raw, &Cancel::never()).unwrap();
        let f = m.predict_texts(&["good bad movie", "bad movie", ""], OutputSpace::Raw);
        assert_abs_diff_eq!(
            e.tokens[0].attribution,
            f[[0, 0]] - f[[1, 0]],
            epsilon = 1e-15
        );
        assert_abs_diff_eq!(e.base_value, f[[2, 0]], epsilon = 1e-15);
        let none = occlusion(&m, "nothing known", 0, OutputSpace::Raw, &Cancel::never()).unwrap();
        assert!(none.tokens.is_empty());
        assert_eq!(none.prediction, none.base_value);
        assert_eq!(none.unknown.len(), 2);
    }

    /// `n` known words of `m`'s vocabulary in a fixed, uneven order, with repeats.
    fn long_text(n: usize) -> Vec<&'static str> {
        let words = ["good", "bad", "movie", "the"];
        let mut x: u64 = 12345;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                words[(x >> 33) as usize % words.len()]
            })
            .collect()
    }

    #[test]
    fn occlusion_equals_predicting_each_text_without_one_word() {
        let m = nonlinear();
        for n in [1, 2, 3, 300] {
            let words = long_text(n);
            let text = words.join(" ");
            let e = occlusion(&m, &text, 0, OutputSpace::Raw, &Cancel::never()).unwrap();
            assert_eq!(e.tokens.len(), n);
            let without: Vec<String> = (0..n)
                .map(|t| [&words[..t], &words[t + 1..]].concat().join(" "))
                .collect();
            let mut texts: Vec<&str> = vec![text.as_str(), ""];
            texts.extend(without.iter().map(String::as_str));
            let f = m.predict_texts(&texts, OutputSpace::Raw);
            assert_abs_diff_eq!(e.prediction, f[[0, 0]], epsilon = 1e-15);
            assert_abs_diff_eq!(e.base_value, f[[1, 0]], epsilon = 1e-15);
            for (t, token) in e.tokens.iter().enumerate() {
                assert_abs_diff_eq!(
                    token.attribution,
                    f[[0, 0]] - f[[t + 2, 0]],
                    epsilon = 1e-12
                );
            }
        }
    }

    #[test]
    fn occlusion_of_a_long_text_takes_linear_time() {
        // 50,000 words: leaving each out and pooling the rest again took minutes
        // (quadratic), past this deadline; one sum and n differences take milliseconds.
        let m = nonlinear();
        let text = long_text(50_000).join(" ");
        let deadline = Cancel::new()
            .child_until(std::time::Instant::now() + std::time::Duration::from_secs(10));
        let e = occlusion(&m, &text, 0, OutputSpace::Raw, &deadline).unwrap();
        assert_eq!(e.tokens.len(), 50_000);
    }

    #[test]
    fn nearest_words_rank_by_cosine_similarity() {
        let near = linear().nearest_words("Good", 3).unwrap();
        assert_eq!(near[0].0, "the");
        assert_abs_diff_eq!(near[0].1, 0.5f64.sqrt(), epsilon = 1e-15);
        assert_eq!(near[2], ("bad".to_string(), -1.0));
        assert!(linear().nearest_words("great", 3).is_err());
    }

    #[test]
    fn invalid_vocabularies_and_heads_are_refused() {
        let good = TextClassifierParams {
            vocabulary: vec!["a".into(), "b".into()],
            embeddings: vec![vec![1.0], vec![2.0]],
            head: MlpParams {
                layers: vec![layer(vec![vec![1.0]], vec![0.0], "identity")],
                scaler: None,
                input_shape: None,
            },
        };
        assert!(good.clone().validate().is_ok());
        let mut upper = good.clone();
        upper.vocabulary[0] = "A".into();
        assert!(upper.validate().is_err());
        let mut twice = good.clone();
        twice.vocabulary[1] = "a".into();
        assert!(twice.validate().is_err());
        let mut two_words = good.clone();
        two_words.vocabulary[1] = "b c".into();
        assert!(two_words.validate().is_err());
        let mut wide = good;
        wide.embeddings = vec![vec![1.0, 0.0], vec![2.0, 0.0]];
        assert!(wide.validate().is_err());
    }
}
