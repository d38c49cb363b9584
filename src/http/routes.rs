//! Routes declared with who may call them.
//!
//! Every resource module builds its routes through [`Routes`], whose only way to add
//! a route takes an [`Access`]: the role a route needs is written where the route is,
//! not matched from path strings elsewhere. The request middleware looks the matched
//! route up in the [`RouteTable`] the routers produced ([`super::auth::admit`]); a
//! route missing from it is refused to all but admins, and `tests/api/routes.rs`
//! lists every route with its access, so a new one cannot go unclassified.
//!
//! A documented route is written once: [`Routes::op`] takes what utoipa-axum's
//! [`routes!`](crate::http::routes::routes) macro makes of the handlers (their
//! `#[utoipa::path]` annotation gives the path, the methods and the operation), so
//! the router, the access table and the API description ([`super::openapi`]) come
//! from the same line. Only the dashboard's static files are routed undocumented.

use std::collections::HashMap;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{self, MethodRouter};
use axum::Router;
use utoipa::openapi::path::{HttpMethod, PathItem};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::UtoipaMethodRouter;
pub use utoipa_axum::router::UtoipaMethodRouterExt;
pub use utoipa_axum::routes;

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
    /// template -> method -> access; HEAD is looked up as GET.
    entries: HashMap<String, HashMap<Method, Access>>,
}

impl RouteTable {
    fn insert(&mut self, method: Method, path: &str, access: Access) {
        self.entries
            .entry(path.to_string())
            .or_default()
            .insert(method, access);
    }

    /// The access declared for `method` on the route template `path`. A method the
    /// route does not serve (answered 405) needs the least access any of the route's
    /// methods needs; a template nobody declared needs admin.
    pub fn access(&self, method: &Method, path: &str) -> Access {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let Some(methods) = self.entries.get(path) else {
            return Access::Admin;
        };
        match methods.get(method) {
            Some(access) => *access,
            None => methods.values().copied().min().unwrap_or(Access::Admin),
        }
    }

    /// Whether `path` is an open route (for the API description's 401/403 answers).
    pub fn is_open(&self, path: &str) -> bool {
        self.entries
            .get(path)
            .is_some_and(|methods| methods.values().any(|a| *a == Access::Open))
    }

    /// Every declared route, sorted by template then method: (method, template, access).
    pub fn list(&self) -> Vec<(String, String, Access)> {
        let mut all: Vec<_> = self
            .entries
            .iter()
            .flat_map(|(p, methods)| methods.iter().map(|(m, a)| (m.to_string(), p.clone(), *a)))
            .collect();
        all.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        all
    }
}

/// A router under construction, with the access of each route it holds.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    table: RouteTable,
    /// The paths and schemas of the documented routes.
    doc: OpenApi,
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Self {
        Routes::default()
    }

    /// The documented handlers `routes!(a, b, …)` made into one route (they share a
    /// path), serving each handler's methods, all callable with `access`. Layers of
    /// the route's own go on the method router, e.g. `{ let mut r = routes!(h); r.2 =
    /// r.2.layer(l); r }`.
    pub fn op(self, access: Access, routed: UtoipaMethodRouter<AppState>) -> Self {
        self.op_at(None, access, routed)
    }

    /// As [`Self::op`], served at `path` rather than at the documented paths: for
    /// a route whose description lists several paths that one axum template serves
    /// (KServe's `NAME:verb`).
    pub fn op_at(
        mut self,
        path: Option<&'static str>,
        access: Access,
        routed: UtoipaMethodRouter<AppState>,
    ) -> Self {
        let (schemas, paths, service) = routed;
        if let Some(path) = path {
            self.router = self.router.route(path, service.clone());
        }
        for (documented, item) in paths.paths {
            let served = path.map_or(documented.clone(), str::to_string);
            for method in methods_of(&item) {
                self.table.insert(method, &served, access);
            }
            if path.is_none() {
                self.router = self.router.route(&served, service.clone());
            }
            let path = documented;
            match self.doc.paths.paths.get_mut(&path) {
                Some(known) => known.merge_operations(item),
                None => {
                    self.doc.paths.paths.insert(path, item);
                }
            }
        }
        self.doc
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        self
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
            self.table.insert(method.clone(), path, access);
        }
        self.router = self.router.route(path, service);
        self
    }

    /// These routes and `other`'s.
    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        for (path, methods) in other.table.entries {
            self.table.entries.entry(path).or_default().extend(methods);
        }
        self.doc.merge(other.doc);
        self
    }

    /// The router and the table of its routes' access.
    pub fn into_parts(self) -> (Router<AppState>, RouteTable) {
        (self.router, self.table)
    }

    /// The access table and the description of the documented routes (their paths,
    /// and the schemas those name).
    pub fn into_description(self) -> (RouteTable, OpenApi) {
        (self.table, self.doc)
    }
}

/// The methods a documented path item has operations for.
fn methods_of(item: &PathItem) -> Vec<Method> {
    [
        (&item.get, HttpMethod::Get),
        (&item.put, HttpMethod::Put),
        (&item.post, HttpMethod::Post),
        (&item.delete, HttpMethod::Delete),
        (&item.patch, HttpMethod::Patch),
        (&item.head, HttpMethod::Head),
        (&item.options, HttpMethod::Options),
        (&item.trace, HttpMethod::Trace),
    ]
    .into_iter()
    .filter(|(operation, _)| operation.is_some())
    .map(|(_, method)| match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Post => Method::POST,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    })
    .collect()
}
