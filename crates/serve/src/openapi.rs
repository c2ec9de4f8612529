//! The API's OpenAPI 3.1 description, made from [`ROUTES`] (each endpoint
//! with its request and response types) and the JSON Schemas those types
//! derive — so it changes with the code, and the tests check every
//! response against it.

use schemars::JsonSchema;
use serde_json::{Value, json};

use crate::api::{Health, Ignored, Problem, RunRequest, Started};
use crate::ignore::IgnoreRequest;
use crate::view;

/// A documented endpoint.
pub struct Route {
    /// `get` or `post`.
    pub method: &'static str,
    /// The path, with `{name}` parameters.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Whether it needs the bearer token.
    pub token: bool,
    /// The request body's type, when it takes one.
    pub request: Option<fn(&mut schemars::SchemaGenerator) -> schemars::Schema>,
    /// Status and body type of each response.
    pub responses: &'static [(u16, &'static str, Body)],
}

/// A response body.
#[derive(Clone, Copy)]
pub enum Body {
    /// JSON of a type.
    Json(fn(&mut schemars::SchemaGenerator) -> schemars::Schema),
    /// Prometheus text.
    Text,
}

fn s<T: JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

const PROBLEM: Body = Body::Json(s::<Problem>);

/// Every endpoint of the API.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/api/v1/overview",
        summary: "The fleet: each image's last decision, promoted digest, open findings by severity, SLA state, KEV, signed, hardened; the fleet's trend.",
        token: false,
        request: None,
        responses: &[
            (200, "The overview.", Body::Json(s::<view::Overview>)),
            (503, "The store does not answer.", PROBLEM),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/images/{name}",
        summary: "One image: promotions, trend, the promoted image's findings with first-seen, deadline and justification, the last promotion's change, bases.",
        token: false,
        request: None,
        responses: &[
            (200, "The image.", Body::Json(s::<view::ImageDetail>)),
            (404, "No such image in the fleet.", PROBLEM),
        ],
    },
    Route {
        method: "post",
        path: "/api/v1/images/{name}/ignores",
        summary: "Ignores a finding of the image: a rule written to the fleet's ignore file, an event in the image's audit log, the image's findings judged again.",
        token: true,
        request: Some(s::<IgnoreRequest>),
        responses: &[
            (201, "Written.", Body::Json(s::<Ignored>)),
            (400, "A field is wrong (named in `field`).", PROBLEM),
            (401, "No valid bearer token.", PROBLEM),
            (404, "No such image in the fleet.", PROBLEM),
            (
                409,
                "The fleet has no ignore file to write, or it cannot take the rule.",
                PROBLEM,
            ),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/runs",
        summary: "The last runs and scheduled job ticks, newest first.",
        token: false,
        request: None,
        responses: &[(200, "Runs and jobs.", Body::Json(s::<view::Runs>))],
    },
    Route {
        method: "post",
        path: "/api/v1/runs",
        summary: "Starts a run of the fleet, or of one image.",
        token: true,
        request: Some(s::<RunRequest>),
        responses: &[
            (202, "Started.", Body::Json(s::<Started>)),
            (400, "The body is not a run request.", PROBLEM),
            (401, "No valid bearer token.", PROBLEM),
            (404, "No such image in the fleet.", PROBLEM),
            (409, "A run started here is still going.", PROBLEM),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/runs/{id}",
        summary: "One run: each image's decision, reasons, step timings, lint and secret findings.",
        token: false,
        request: None,
        responses: &[
            (200, "The run.", Body::Json(s::<view::RunDetail>)),
            (400, "The id is not a number.", PROBLEM),
            (404, "No such run.", PROBLEM),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/audit",
        summary: "Every image's hash-chained audit log, verified.",
        token: false,
        request: None,
        responses: &[(200, "The logs.", Body::Json(s::<view::Audit>))],
    },
    Route {
        method: "get",
        path: "/healthz",
        summary: "Whether the service and its store answer.",
        token: false,
        request: None,
        responses: &[
            (200, "Healthy.", Body::Json(s::<Health>)),
            (503, "The store does not answer.", PROBLEM),
        ],
    },
    Route {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (text exposition format 0.0.4).",
        token: false,
        request: None,
        responses: &[(200, "The metrics.", Body::Text)],
    },
];

/// The description.
pub fn document() -> Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "#/components/schemas/".into())
        .into_generator();
    let mut paths = serde_json::Map::new();
    for r in ROUTES {
        let mut responses = serde_json::Map::new();
        for (status, description, body) in r.responses {
            let content = match body {
                Body::Json(f) => json!({"application/json": {"schema": f(&mut g)}}),
                Body::Text => json!({"text/plain": {"schema": {"type": "string"}}}),
            };
            responses.insert(
                status.to_string(),
                json!({"description": description, "content": content}),
            );
        }
        let mut op = json!({
            "summary": r.summary,
            "operationId": format!("{}{}", r.method, r.path.replace(['/', '{', '}'], "_")),
            "responses": responses,
        });
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|p| p.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(f) = r.request {
            op["requestBody"] = json!({"required": r.method == "post" && r.path.ends_with("ignores"), "content": {"application/json": {"schema": f(&mut g)}}});
        }
        if r.token {
            op["security"] = json!([{"bearer": []}]);
        }
        paths
            .entry(r.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object")
            .insert(r.method.to_string(), op);
    }
    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "safeimage serve",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The fleet's state: images, findings over time, runs, jobs and the audit log. State changes need `Authorization: Bearer <token>`.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}
