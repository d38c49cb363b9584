//! Bearer-token access control with two roles.
//!
//! `admin` may register, replace and delete models and read weight dumps; `reader`
//! may predict, explain, read global summaries and pictures. Liveness, readiness,
//! metrics, the API description and the dashboard's static page need no token.
//! With no tokens configured every route is open, and the server refuses to listen
//! beyond loopback unless told to (see [`check_exposure`]).
//!
//! Tokens are kept only as SHA-256 digests and compared in constant time; they
//! never reach a log line.

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::Request;
use axum::http::header;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::config::{Config, Secret};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read-only use of models.
    Reader,
    /// Everything a reader may do, plus changing models and reading weights.
    Admin,
}

/// The configured tokens, as digests.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// (digest, role) pairs.
    entries: Vec<([u8; 32], Role)>,
}

impl Tokens {
    /// Collect tokens from the flags and the tokens file.
    ///
    /// # Errors
    /// A tokens file that cannot be read or has a malformed line (the message names
    /// the line number, never the token).
    pub fn from_config(config: &Config) -> Result<Tokens, String> {
        let mut tokens = Tokens::default();
        for t in &config.admin_tokens {
            tokens.add(t, Role::Admin);
        }
        for t in &config.reader_tokens {
            tokens.add(t, Role::Reader);
        }
        if let Some(path) = &config.tokens_file {
            tokens.read_file(path)?;
        }
        tokens.check_one_role_each()?;
        Ok(tokens)
    }

    /// Refuse a token given two roles (it would act as whichever comes first).
    fn check_one_role_each(&self) -> Result<(), String> {
        for (i, (digest, role)) in self.entries.iter().enumerate() {
            if self.entries[..i]
                .iter()
                .any(|(d, r)| d == digest && r != role)
            {
                return Err(
                    "a token is given both the admin and the reader role (flags or \
                            tokens file); give each token one role"
                        .into(),
                );
            }
        }
        Ok(())
    }

    fn add(&mut self, token: &Secret, role: Role) {
        self.entries.push((digest(token.0.as_bytes()), role));
    }

    fn read_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("tokens file {}: {e}", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (role, token) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("tokens file line {}: expected `ROLE TOKEN`", i + 1))?;
            let role = match role {
                "admin" => Role::Admin,
                "reader" => Role::Reader,
                _ => {
                    return Err(format!(
                        "tokens file line {}: role must be admin or reader",
                        i + 1
                    ))
                }
            };
            let secret: Secret = token
                .parse()
                .map_err(|e| format!("tokens file line {}: {e}", i + 1))?;
            self.add(&secret, role);
        }
        Ok(())
    }

    /// Whether any token is configured (and so access control is on).
    pub fn enabled(&self) -> bool {
        !self.entries.is_empty()
    }

    /// The role of a presented token, checking every entry in constant time.
    pub fn role_of(&self, presented: &str) -> Option<Role> {
        let d = digest(presented.as_bytes());
        let mut found = None;
        for (known, role) in &self.entries {
            if bool::from(known.ct_eq(&d)) {
                found = found.max(Some(*role));
            }
        }
        found
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Refuse to listen beyond loopback without tokens, unless explicitly allowed.
///
/// # Errors
/// A message for the operator saying what to do.
pub fn check_exposure(addr: SocketAddr, tokens: &Tokens, allow: bool) -> Result<(), String> {
    if tokens.enabled() || addr.ip().is_loopback() || allow {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {addr} without access tokens: anyone reaching it could replace \
         models. Configure --admin-token/--reader-token or --tokens-file (EXPLAIND_ADMIN_TOKENS, \
         EXPLAIND_READER_TOKENS, EXPLAIND_TOKENS_FILE), listen on loopback, or on a private \
         network pass --allow-unauthenticated (EXPLAIND_ALLOW_UNAUTHENTICATED=true)"
    ))
}

/// The role a request acts with, for handlers whose answers depend on it (summaries
/// over background or data-set rows: see [`super::privacy`]). Put in the
/// request's extensions by [`admit`]; a handler takes it as an extractor. With access
/// control off every route is open, so every caller counts as an admin; a request
/// that somehow lacks it counts as a reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub Role);

impl Caller {
    /// Whether the caller has the admin role (or access control is off).
    pub fn is_admin(self) -> bool {
        self.0 == Role::Admin
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .copied()
            .unwrap_or(Caller(Role::Reader)))
    }
}

/// Let a request through with the role it acts with, or refuse it for lacking
/// `needed`, the role its route was declared with (None: open): 401 without a valid
/// token, 403 with a token whose role is too low. Called by the request middleware
/// in [`super::app`], before the handler.
///
/// # Errors
/// [`ApiError::Unauthorized`] or [`ApiError::Forbidden`].
pub fn admit(tokens: &Tokens, needed: Option<Role>, request: &Request) -> Result<Caller, ApiError> {
    if !tokens.enabled() {
        return Ok(Caller(Role::Admin));
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match (presented.and_then(|t| tokens.role_of(t)), needed) {
        (role, None) => Ok(Caller(role.unwrap_or(Role::Reader))),
        (None, Some(_)) => Err(ApiError::Unauthorized),
        (Some(role), Some(needed)) if role < needed => Err(ApiError::Forbidden),
        (Some(role), Some(_)) => Ok(Caller(role)),
    }
}

/// The token of an `Authorization` value of the `Bearer` scheme, named in any case
/// (RFC 9110 §11.1: the scheme is case-insensitive) and followed by one or more
/// spaces; `None` for any other scheme.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_found_by_digest() {
        let mut tokens = Tokens::default();
        tokens.add(&Secret("admin-token-0123456789".into()), Role::Admin);
        tokens.add(&Secret("reader-token-0123456789".into()), Role::Reader);
        assert_eq!(tokens.role_of("admin-token-0123456789"), Some(Role::Admin));
        assert_eq!(
            tokens.role_of("reader-token-0123456789"),
            Some(Role::Reader)
        );
        assert_eq!(tokens.role_of("reader-token-012345678"), None);
        assert_eq!(tokens.role_of(""), None);
    }

    #[test]
    fn a_token_with_two_roles_is_refused_without_naming_it() {
        let config = |admin: &str, reader: &str| Config {
            admin_tokens: vec![Secret(admin.into())],
            reader_tokens: vec![Secret(reader.into())],
            ..Config::defaults()
        };
        let same = "shared-token-0123456789";
        let err = Tokens::from_config(&config(same, same)).unwrap_err();
        assert!(err.contains("both the admin and the reader role"), "{err}");
        assert!(!err.contains(same), "the message must not print the token");
        assert!(Tokens::from_config(&config(same, "other-token-0123456789")).is_ok());
    }

    #[test]
    fn exposure_needs_tokens_or_consent() {
        let none = Tokens::default();
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(check_exposure(local, &none, false).is_ok());
        assert!(check_exposure(public, &none, false).is_err());
        assert!(check_exposure(public, &none, true).is_ok());
    }
}
