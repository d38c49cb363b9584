//! Bag-of-embeddings text classifiers (kind `"text_classifier"`): a vocabulary, an
//! embedding table, mean pooling and an [`Mlp`] head, as in fastText (Joulin, Grave,
//! Bojanowski and Mikolov 2017, "Bag of Tricks for Efficient Text Classification").
//!
//! Tokenisation lowercases the text and takes each maximal run of alphanumeric
//! characters or apostrophes as a word (Unicode-aware: "Café's" → "café's"). Words not
//! in the vocabulary are **skipped** and reported back ([`Tokenized::unknown`]); the
//! pooled vector is the mean embedding of the known words, and a text with none pools
//! to the zero vector, so its prediction is the head's output at 0 (the "empty text").
//!
//! The head sees the pooled embedding, so [`Model`] here is the head's: its features
//! are embedding dimensions, not words.

use std::collections::HashMap;

use ndarray::{Array1, Array2, ArrayView1, Axis};
use serde::{Deserialize, Serialize};

use super::mlp::MlpParams;
use super::{Mlp, Model, OutputSpace};
use crate::core::{CoreError, CoreResult};

/// A text classifier as given, before [`TextClassifierParams::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextClassifierParams {
    /// Lowercase words, each a single token; row i of `embeddings` belongs to word i.
    pub vocabulary: Vec<String>,
    /// One row of `dim` values per vocabulary word.
    pub embeddings: Vec<Vec<f64>>,
    /// The classifier on the pooled embedding; its first layer takes `dim` inputs.
    pub head: MlpParams,
}

/// One word of a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Token {
    /// The lowercased word.
    pub text: String,
    /// Byte offset of its first character in the original text.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
    /// Its row in the embedding table; `None` for a word outside the vocabulary.
    pub id: Option<usize>,
}

/// A text split into words.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenized {
    /// The words in the vocabulary, in order: these are pooled and attributed.
    pub known: Vec<Token>,
    /// The words that were skipped, in order.
    pub unknown: Vec<Token>,
}

/// A validated text classifier.
#[derive(Debug, Clone)]
pub struct TextClassifier {
    /// Word → row of `embeddings`.
    index: HashMap<String, usize>,
    /// Row → word, for nearest-word answers.
    words: Vec<String>,
    /// (vocabulary, dim).
    embeddings: Array2<f64>,
    /// Maps a pooled embedding (dim) to the outputs.
    head: Mlp,
}

/// Whether a character belongs to a word.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\''
}

impl TextClassifierParams {
    /// Check everything and build the classifier.
    ///
    /// # Errors
    /// [`CoreError::InvalidModel`] for an empty or duplicated vocabulary, a word that
    /// is not one lowercase token, embeddings of the wrong count, ragged or not
    /// finite, or a head that is invalid or does not take `dim` inputs.
    pub fn validate(self) -> CoreResult<TextClassifier> {
        let invalid = CoreError::InvalidModel;
        if self.vocabulary.is_empty() || self.vocabulary.len() != self.embeddings.len() {
            return Err(invalid(format!(
                "{} vocabulary words for {} embedding rows (need at least one)",
                self.vocabulary.len(),
                self.embeddings.len()
            )));
        }
        let dim = self.embeddings[0].len();
        if dim == 0 || self.embeddings.iter().any(|r| r.len() != dim) {
            return Err(invalid(format!(
                "every embedding row needs the same, non-zero length (row 0 has {dim})"
            )));
        }
        if self.embeddings.iter().flatten().any(|v| !v.is_finite()) {
            return Err(invalid("embeddings must be finite numbers".into()));
        }
        let mut index = HashMap::with_capacity(self.vocabulary.len());
        for (i, word) in self.vocabulary.iter().enumerate() {
            let single = word.chars().all(is_word_char) && !word.is_empty();
            if !single || word.to_lowercase() != *word {
                return Err(invalid(format!(
                    "vocabulary word {i} ('{word}') is not one lowercase word"
                )));
            }
            if index.insert(word.clone(), i).is_some() {
                return Err(invalid(format!("vocabulary word '{word}' appears twice")));
            }
        }
        let head = self.head.validate()?;
        if head.n_features() != dim {
            return Err(invalid(format!(
                "the head takes {} inputs but embeddings have {dim} dimensions",
                head.n_features()
            )));
        }
        let flat: Vec<f64> = self.embeddings.into_iter().flatten().collect();
        let embeddings = Array2::from_shape_vec((self.vocabulary.len(), dim), flat)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(TextClassifier {
            index,
            words: self.vocabulary,
            embeddings,
            head,
        })
    }
}

impl TextClassifier {
    /// Always `"text_classifier"`.
    pub fn kind(&self) -> &'static str {
        "text_classifier"
    }

    /// The head, whose inputs are pooled embeddings.
    pub fn head(&self) -> &Mlp {
        &self.head
    }

    /// The embedding table, (vocabulary, dim).
    pub fn embeddings(&self) -> &Array2<f64> {
        &self.embeddings
    }

    /// The embedding of `word` (lowercased), or `None` outside the vocabulary.
    pub fn embedding(&self, word: &str) -> Option<ArrayView1<'_, f64>> {
        let id = *self.index.get(&word.to_lowercase())?;
        Some(self.embeddings.row(id))
    }

    /// Number of vocabulary words.
    pub fn vocabulary_size(&self) -> usize {
        self.words.len()
    }

    /// Split `text` into lowercase words and look each up.
    pub fn tokenize(&self, text: &str) -> Tokenized {
        let mut out = Tokenized {
            known: Vec::new(),
            unknown: Vec::new(),
        };
        let mut start: Option<usize> = None;
        let mut push = |s: usize, e: usize| {
            let word = text[s..e].to_lowercase();
            let id = self.index.get(&word).copied();
            let token = Token {
                text: word,
                start: s,
                end: e,
                id,
            };
            match id {
                Some(_) => out.known.push(token),
                None => out.unknown.push(token),
            }
        };
        for (i, c) in text.char_indices() {
            match (is_word_char(c), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    push(s, i);
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            push(s, text.len());
        }
        out
    }

    /// The embeddings of the known tokens, (tokens, dim).
    pub fn token_embeddings(&self, tokens: &[Token]) -> Array2<f64> {
        let ids: Vec<usize> = tokens.iter().filter_map(|t| t.id).collect();
        self.embeddings.select(Axis(0), &ids)
    }

    /// Mean of the known tokens' embeddings; zeros when there are none.
    pub fn pool(&self, tokens: &[Token]) -> Array1<f64> {
        self.token_embeddings(tokens)
            .mean_axis(Axis(0))
            .unwrap_or_else(|| Array1::zeros(self.embeddings.ncols()))
    }

    /// Predictions for a batch of texts, (texts, n_outputs), in `space`.
    pub fn predict_texts(&self, texts: &[&str], space: OutputSpace) -> Array2<f64> {
        let mut pooled = Array2::zeros((texts.len(), self.embeddings.ncols()));
        for (mut row, text) in pooled.axis_iter_mut(Axis(0)).zip(texts) {
            row.assign(&self.pool(&self.tokenize(text).known));
        }
        self.head.predict(pooled.view(), space)
    }

    /// The `k` vocabulary words whose embeddings have the highest cosine similarity to
    /// `word`'s, best first (ties by vocabulary order), the word itself excluded. A
    /// zero embedding has similarity 0 to everything.
    ///
    /// # Errors
    /// [`CoreError::InvalidArgument`] when `word` (lowercased) is not in the vocabulary.
    pub fn nearest_words(&self, word: &str, k: usize) -> CoreResult<Vec<(String, f64)>> {
        let lower = word.to_lowercase();
        let &id = self.index.get(&lower).ok_or_else(|| {
            CoreError::InvalidArgument(format!("'{word}' is not in the vocabulary"))
        })?;
        let target = self.embeddings.row(id);
        let mut scored: Vec<(usize, f64)> = self
            .embeddings
            .axis_iter(Axis(0))
            .enumerate()
            .filter(|&(i, _)| i != id)
            .map(|(i, row)| (i, cosine(target, row)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(scored
            .into_iter()
            .take(k)
            .map(|(i, s)| (self.words[i].clone(), s))
            .collect())
    }
}

/// a·b / (‖a‖ ‖b‖), or 0 when either is the zero vector.
fn cosine(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    let norms = a.dot(&a).sqrt() * b.dot(&b).sqrt();
    if norms == 0.0 {
        0.0
    } else {
        a.dot(&b) / norms
    }
}
