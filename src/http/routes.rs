//! Routes declared with who may call them.
//!
//! Every resource module builds its routes through [`Routes`], whose only way to add
//! a route takes an [`Access`]: the role a route needs is written where the route is,
//! not matched from path strings elsewhere. The request middleware looks the matched
//! route up in the [`RouteTable`] the routers produced ([`super::auth::admit`]); a
//! route missing from it is refused to all but admins, and `tests/api/routes.rs`
//! lists every route with its access, so a new one cannot go unclassified.

use std::collections::HashMap;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use axum::Router;

use super::auth::Role;
use super::AppState;

/// Who may call a route when access tokens are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Anyone, token or not: probes, metrics, the API description, the dashboard page.
    Open,
    /// A reader or admin token.
    Reader,
    /// An admin token.
    Admin,
}

impl Access {
    /// The role a token needs, or None for open routes.
    pub fn role(self) -> Option<Role> {
        match self {
            Access::Open => None,
            Access::Reader => Some(Role::Reader),
            Access::Admin => Some(Role::Admin),
        }
    }
}

/// The access of every (method, route template) the routers declared.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// (method, template) -> access; HEAD is looked up as GET.
    entries: HashMap<(Method, &'static str), Access>,
}

impl RouteTable {
    /// The access declared for `method` on the route template `path`. A method the
    /// route does not serve (answered 405) needs the least access any of the route's
    /// methods needs; a template nobody declared needs admin.
    pub fn access(&self, method: &Method, path: &str) -> Access {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        if let Some(access) = self.entries.get(&(method.clone(), path)) {
            return *access;
        }
        self.entries
            .iter()
            .filter(|((_, p), _)| *p == path)
            .map(|(_, a)| *a)
            .min()
            .unwrap_or(Access::Admin)
    }

    /// Whether `path` is an open route (for the API description's 401/403 answers).
    pub fn is_open(&self, path: &str) -> bool {
        self.entries
            .iter()
            .any(|((_, p), a)| *p == path && *a == Access::Open)
    }

    /// Every declared route, sorted by template then method: (method, template, access).
    pub fn list(&self) -> Vec<(String, &'static str, Access)> {
        let mut all: Vec<_> = self
            .entries
            .iter()
            .map(|((m, p), a)| (m.to_string(), *p, *a))
            .collect();
        all.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        all
    }
}

/// A router under construction, with the access of each route it holds.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    table: RouteTable,
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Self {
        Routes::default()
    }

    /// `GET` (and `HEAD`) on `path`, callable with `access`.
    pub fn get<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(path, access, &[Method::GET], routing::get(handler))
    }

    /// `POST` on `path`, callable with `access`.
    pub fn post<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(path, access, &[Method::POST], routing::post(handler))
    }

    /// `DELETE` on `path`, callable with `access`.
    pub fn delete<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.route(path, access, &[Method::DELETE], routing::delete(handler))
    }

    /// A prepared method router (one with layers of its own) serving `methods` on
    /// `path`, all callable with `access`. Routes on one path merge by method.
    pub fn route(
        mut self,
        path: &'static str,
        access: Access,
        methods: &[Method],
        service: MethodRouter<AppState>,
    ) -> Self {
        for method in methods {
            self.table.entries.insert((method.clone(), path), access);
        }
        self.router = self.router.route(path, service);
        self
    }

    /// These routes and `other`'s.
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.entries.extend(other.table.entries);
        self
    }

    /// The router and the table of its routes' access.
    pub fn into_parts(self) -> (Router<AppState>, RouteTable) {
        (self.router, self.table)
    }
}
