//! The one table of every function the app serves: name, route, methods, authLevel, what its
//! body must be, and its handler. The router is built from it, and so are the committed
//! `functions/<name>/function.json` files and `handler package` ([`crate::functions`]), so routes,
//! handlers and function.json never drift.

use axum::routing::{delete, get, options, post, MethodRouter};
use serde_json::{json, Value};

use super::{
    demo, execute, groups, health, invoke, list_connections, manage, messages, negotiate, upstream,
    webpubsub, AppState,
};

/// Who may call a function, as the host enforces it (`authLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLevel {
    /// No key.
    Anonymous,
    /// A function key or host key (`x-functions-key` header or `code` query).
    Function,
}

impl AuthLevel {
    /// The value written in function.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Function => "function",
        }
    }
}

/// One HTTP function: a folder under `functions/` and one route of the router.
#[derive(Clone, Copy)]
pub struct Function {
    /// Folder name (`^[a-z][a-z0-9_-]{0,127}$`).
    pub name: &'static str,
    /// Route template after the `api/` prefix, in ASP.NET syntax (`hubs/{hub}/negotiate`).
    pub route: &'static str,
    /// Allowed methods, lowercase.
    pub methods: &'static [&'static str],
    /// Who may call it.
    pub auth_level: AuthLevel,
    /// What its POST body must be.
    pub body: BodyKind,
    /// Its handlers, one per method.
    pub handler: fn() -> MethodRouter<AppState>,
}

/// What a function's POST body must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// JSON: other content types are refused with a 415 (see [`super::content_type`]).
    Json,
    /// The function checks its own body (the upstream, the Web PubSub events) or ignores it
    /// (negotiate, GET routes).
    Own,
    /// Like [`BodyKind::Own`], and its `OPTIONS` is its own too, never a CORS preflight: Web
    /// PubSub's abuse-protection handshake. Only services call it, never a browser.
    OwnWithoutCors,
}

const fn f(
    name: &'static str,
    route: &'static str,
    methods: &'static [&'static str],
    auth_level: AuthLevel,
    handler: fn() -> MethodRouter<AppState>,
) -> Function {
    Function {
        name,
        route,
        methods,
        auth_level,
        body: BodyKind::Own,
        handler,
    }
}

/// A function whose POST body must be JSON.
const fn json_body(function: Function) -> Function {
    Function {
        body: BodyKind::Json,
        ..function
    }
}

/// A function outside CORS (its `OPTIONS` is its own).
const fn without_cors(function: Function) -> Function {
    Function {
        body: BodyKind::OwnWithoutCors,
        ..function
    }
}

use AuthLevel::{Anonymous, Function as Keyed};

/// Every function the app serves.
pub const FUNCTIONS: &[Function] = &[
    f(
        "negotiate",
        "negotiate",
        &["get", "post"],
        Anonymous,
        || get(negotiate::negotiate).post(negotiate::negotiate),
    ),
    f(
        "negotiate-hub",
        "hubs/{hub}/negotiate",
        &["get", "post"],
        Anonymous,
        || get(negotiate::negotiate).post(negotiate::negotiate),
    ),
    json_body(f("messages", "messages", &["post"], Keyed, || {
        post(messages::send)
    })),
    json_body(f(
        "messages-hub",
        "hubs/{hub}/messages",
        &["post"],
        Keyed,
        || post(messages::send),
    )),
    json_body(f("groups", "groups", &["post"], Keyed, || {
        post(groups::apply)
    })),
    json_body(f(
        "groups-hub",
        "hubs/{hub}/groups",
        &["post"],
        Keyed,
        || post(groups::apply),
    )),
    f("user", "hubs/{hub}/users/{user}", &["get"], Keyed, || {
        get(manage::user)
    }),
    f(
        "user-group",
        "hubs/{hub}/users/{user}/groups/{group}",
        &["get"],
        Keyed,
        || get(manage::user_in_group),
    ),
    f(
        "group",
        "hubs/{hub}/groups/{group}",
        &["get"],
        Keyed,
        || get(manage::group),
    ),
    f(
        "group-connections",
        "hubs/{hub}/groups/{group}/connections",
        &["get"],
        Keyed,
        || get(list_connections::signalr),
    ),
    json_body(f(
        "execute-hub",
        "hubs/{hub}/execute",
        &["post"],
        Keyed,
        || post(execute::run),
    )),
    f(
        "connection",
        "hubs/{hub}/connections/{connectionId}",
        &["get", "delete"],
        Keyed,
        || get(manage::connection).merge(delete(manage::close_connection)),
    ),
    // Client results: a connection's client answers an invocation.
    json_body(f(
        "invoke",
        "hubs/{hub}/connections/{connectionId}/invoke",
        &["post"],
        Keyed,
        || post(invoke::invoke),
    )),
    json_body(f("close-hub", "hubs/{hub}/close", &["post"], Keyed, || {
        post(manage::close_hub)
    })),
    json_body(f(
        "close-group",
        "hubs/{hub}/groups/{group}/close",
        &["post"],
        Keyed,
        || post(manage::close_group),
    )),
    json_body(f(
        "close-user",
        "hubs/{hub}/users/{user}/close",
        &["post"],
        Keyed,
        || post(manage::close_user),
    )),
    f("health", "health", &["get"], Anonymous, || {
        get(health::route)
    }),
    f("upstream", "upstream", &["post"], Keyed, || {
        post(upstream::receive)
    }),
    f("demo", "demo", &["get"], Anonymous, || get(demo::page)),
    f("demo-asset", "demo/{file}", &["get"], Anonymous, || {
        get(demo::asset)
    }),
    // Azure Web PubSub, a peer of the SignalR routes above.
    f(
        "webpubsub-negotiate",
        "webpubsub/negotiate",
        &["get", "post"],
        Anonymous,
        || get(webpubsub::negotiate::negotiate).post(webpubsub::negotiate::negotiate),
    ),
    f(
        "webpubsub-negotiate-hub",
        "webpubsub/hubs/{hub}/negotiate",
        &["get", "post"],
        Anonymous,
        || get(webpubsub::negotiate::negotiate).post(webpubsub::negotiate::negotiate),
    ),
    json_body(f(
        "webpubsub-actions",
        "webpubsub/actions",
        &["post"],
        Keyed,
        || post(webpubsub::actions::apply),
    )),
    json_body(f(
        "webpubsub-actions-hub",
        "webpubsub/hubs/{hub}/actions",
        &["post"],
        Keyed,
        || post(webpubsub::actions::apply),
    )),
    without_cors(f(
        "webpubsub-events",
        "webpubsub/events",
        &["options", "post"],
        Keyed,
        || options(webpubsub::events::handshake).post(webpubsub::events::receive),
    )),
    f(
        "webpubsub-connection",
        "webpubsub/hubs/{hub}/connections/{connectionId}",
        &["get", "delete"],
        Keyed,
        || get(webpubsub::manage::connection).merge(delete(webpubsub::manage::close_connection)),
    ),
    f(
        "webpubsub-user",
        "webpubsub/hubs/{hub}/users/{user}",
        &["get"],
        Keyed,
        || get(webpubsub::manage::user),
    ),
    f(
        "webpubsub-group",
        "webpubsub/hubs/{hub}/groups/{group}",
        &["get"],
        Keyed,
        || get(webpubsub::manage::group),
    ),
    f(
        "webpubsub-group-connections",
        "webpubsub/hubs/{hub}/groups/{group}/connections",
        &["get"],
        Keyed,
        || get(list_connections::webpubsub),
    ),
    f(
        "webpubsub-permission",
        "webpubsub/hubs/{hub}/permissions/{permission}/connections/{connectionId}",
        &["get"],
        Keyed,
        || get(webpubsub::manage::permission),
    ),
];

impl Function {
    /// The function.json document for this function: an httpTrigger and an http output only,
    /// so the host forwards the raw request.
    pub fn function_json(&self) -> Value {
        json!({
            "bindings": [
                {
                    "authLevel": self.auth_level.as_str(),
                    "type": "httpTrigger",
                    "direction": "in",
                    "name": "req",
                    "methods": self.methods,
                    "route": self.route,
                },
                { "type": "http", "direction": "out", "name": "res" }
            ]
        })
    }

    /// The axum path of this route, with the host's `/api` prefix.
    pub fn path(&self) -> String {
        format!("/api/{}", self.route)
    }
}
