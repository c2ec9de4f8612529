//! A forge's API as a local server that holds both sides to the forge's own
//! OpenAPI description: every request must be an operation the description
//! has (method and path), with only the query parameters it declares, every
//! required one present, and a JSON body valid against the operation's
//! request schema; every response the test's handler gives must be one the
//! operation declares, with a body valid against that response's schema.
//! Anything else is recorded as a violation (and answered 599) and the test
//! asserts there were none. OpenAPI 3.0 schemas are read as JSON Schema
//! draft 4 with `nullable` turned into a `null` type.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

const BASE: &str = "urn:safeimage-test:openapi";

/// An OpenAPI description, converted for validation.
pub struct Spec {
    doc: Value,
    registry: jsonschema::Registry<'static>,
}

/// OpenAPI 3.0's `nullable: true` as JSON Schema.
fn convert(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for x in m.values_mut() {
                convert(x);
            }
            if m.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::Array(e)) = m.get_mut("enum")
                    && !e.contains(&Value::Null)
                {
                    e.push(Value::Null);
                }
                match m.get("type").cloned() {
                    Some(Value::String(t)) => {
                        m.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(m));
                        m.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(convert),
        _ => {}
    }
}

fn pointer_token(s: &str) -> String {
    let escaped = s.replace('~', "~0").replace('/', "~1");
    let mut out = String::new();
    for b in escaped.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` sequences (and `+`) decoded.
fn decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parameter's text as the JSON value its schema speaks of: a number, a
/// boolean, a comma-separated array (`style: form`, `explode: false`), or
/// the string itself.
fn parameter_value(schema: &Value, text: &str) -> Value {
    let kind = match &schema["type"] {
        Value::String(s) => s.as_str(),
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .find(|s| *s != "null")
            .unwrap_or(""),
        _ => "",
    };
    match kind {
        "integer" => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.into())),
        "number" => text
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.into())),
        "boolean" => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.into()),
        },
        "array" => Value::Array(
            text.split(',')
                .map(|x| parameter_value(&schema["items"], x))
                .collect(),
        ),
        _ => Value::String(text.into()),
    }
}

/// A schema of the description, by the path of keys that leads to it.
fn reference(keys: &[&str]) -> Value {
    let ptr: String = keys
        .iter()
        .map(|k| format!("/{}", pointer_token(k)))
        .collect();
    json!({"$ref": format!("{BASE}#{ptr}")})
}

impl Spec {
    /// Reads a description (JSON, or YAML for a `.yaml` file).
    pub fn load(path: &Path) -> Spec {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-test-schemas)", path.display()));
        let mut doc: Value = if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            serde_yaml_ng::from_str(&text).unwrap()
        } else {
            serde_json::from_str(&text).unwrap()
        };
        convert(&mut doc);
        let registry = jsonschema::Registry::new()
            .add(BASE, doc.clone())
            .unwrap()
            .prepare()
            .unwrap();
        Spec { doc, registry }
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let ptr = r.trim_start_matches('#');
                self.doc.pointer(ptr).unwrap_or(v)
            }
            None => v,
        }
    }

    /// The description's path template matching `path`, with its parameters.
    fn template(&self, path: &str) -> Option<(String, BTreeMap<String, String>)> {
        let want: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut best: Option<(String, BTreeMap<String, String>, usize)> = None;
        for t in self.doc["paths"].as_object()?.keys() {
            let parts: Vec<&str> = t.trim_end_matches('/').split('/').collect();
            if parts.len() != want.len() {
                continue;
            }
            let mut params = BTreeMap::new();
            let mut literal = 0;
            let ok = parts.iter().zip(&want).all(|(p, w)| {
                if p.starts_with('{') && p.ends_with('}') {
                    params.insert(p[1..p.len() - 1].to_string(), w.to_string());
                    !w.is_empty()
                } else {
                    literal += 1;
                    p == w
                }
            });
            if ok && best.as_ref().is_none_or(|b| literal > b.2) {
                best = Some((t.clone(), params, literal));
            }
        }
        best.map(|(t, p, _)| (t, p))
    }

    fn validate(&self, keys: &[&str], instance: &Value) -> Vec<String> {
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .with_registry(&self.registry)
            .build(&reference(keys))
            .unwrap_or_else(|e| panic!("schema at {keys:?}: {e}"));
        v.iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// Violations of a request (`path` may carry a query string).
    pub fn check_request(&self, method: &str, path: &str, body: Option<&Value>) -> Vec<String> {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let m = method.to_ascii_lowercase();
        let Some((t, params)) = self.template(path) else {
            return vec![format!("{method} {path}: no such path in the description")];
        };
        let Some(op) = self.doc["paths"][&t].get(&m) else {
            return vec![format!(
                "{method} {t}: no such operation in the description"
            )];
        };
        let mut out = Vec::new();
        // each declared parameter with the keys that lead to it
        let mut declared: Vec<(Vec<String>, &Value)> = Vec::new();
        for (at, list) in [
            (
                vec!["paths".to_string(), t.clone()],
                self.doc["paths"][&t].get("parameters"),
            ),
            (
                vec!["paths".to_string(), t.clone(), m.clone()],
                op.get("parameters"),
            ),
        ] {
            for (i, p) in list
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let keys = match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => r
                        .trim_start_matches("#/")
                        .split('/')
                        .map(|s| s.replace("~1", "/").replace("~0", "~"))
                        .collect(),
                    None => {
                        let mut k = at.clone();
                        k.extend(["parameters".to_string(), i.to_string()]);
                        k
                    }
                };
                declared.push((keys, self.resolve(p)));
            }
        }
        let given: Vec<(String, String)> = query
            .split('&')
            .filter(|q| !q.is_empty())
            .map(|q| {
                let (k, v) = q.split_once('=').unwrap_or((q, ""));
                (decode(k), decode(v))
            })
            .collect();
        for (k, _) in &given {
            if !declared
                .iter()
                .any(|(_, p)| p["in"] == "query" && p["name"] == k.as_str())
            {
                out.push(format!(
                    "{method} {t}: query parameter `{k}` is not declared"
                ));
            }
        }
        let in_path: BTreeMap<&String, String> =
            params.iter().map(|(k, v)| (k, decode(v))).collect();
        for (keys, p) in &declared {
            let name = p["name"].as_str().unwrap_or_default();
            let place = p["in"].as_str().unwrap_or_default();
            let value = match place {
                "query" => given.iter().find(|(k, _)| k == name).map(|(_, v)| v),
                "path" => in_path.get(&name.to_string()),
                _ => None,
            };
            if p["required"] == true && value.is_none() && matches!(place, "query" | "path") {
                out.push(format!("{method} {t}: required parameter `{name}` missing"));
            }
            if let (Some(v), Some(schema)) = (value, p.get("schema")) {
                let instance = parameter_value(self.resolve(schema), v);
                let mut k: Vec<&str> = keys.iter().map(String::as_str).collect();
                k.push("schema");
                out.extend(
                    self.validate(&k, &instance)
                        .into_iter()
                        .map(|e| format!("{method} {t}: {place} parameter `{name}`: {e}")),
                );
            }
        }
        let schema = op.pointer("/requestBody/content/application~1json/schema");
        match (schema, body) {
            (Some(_), Some(b)) => {
                let keys = [
                    "paths",
                    t.as_str(),
                    m.as_str(),
                    "requestBody",
                    "content",
                    "application/json",
                    "schema",
                ];
                out.extend(
                    self.validate(&keys, b)
                        .into_iter()
                        .map(|e| format!("{method} {t} request: {e}")),
                );
            }
            (Some(_), None) if op["requestBody"]["required"] == true => {
                out.push(format!("{method} {t}: the request body is required"));
            }
            (None, Some(_)) => out.push(format!("{method} {t}: takes no JSON body")),
            _ => {}
        }
        out
    }

    /// Violations of a response.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Vec<String> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let m = method.to_ascii_lowercase();
        let Some((t, _)) = self.template(path) else {
            return vec![format!("{method} {path}: no such path")];
        };
        let code = status.to_string();
        let Some(resp) = self.doc["paths"][&t][&m]["responses"].get(&code) else {
            return vec![format!(
                "{method} {t}: status {status} is not a declared response"
            )];
        };
        let (keys_owned, resolved): (Vec<String>, &Value) =
            match resp.get("$ref").and_then(Value::as_str) {
                Some(r) => (
                    r.trim_start_matches("#/")
                        .split('/')
                        .map(|s| s.replace("~1", "/").replace("~0", "~"))
                        .collect(),
                    self.resolve(resp),
                ),
                None => (
                    vec![
                        "paths".into(),
                        t.clone(),
                        m.clone(),
                        "responses".into(),
                        code.clone(),
                    ],
                    resp,
                ),
            };
        match (resolved.pointer("/content/application~1json/schema"), body) {
            (Some(_), Some(b)) => {
                let mut keys: Vec<&str> = keys_owned.iter().map(String::as_str).collect();
                keys.extend(["content", "application/json", "schema"]);
                self.validate(&keys, b)
                    .into_iter()
                    .map(|e| format!("{method} {t} {status} response: {e}"))
                    .collect()
            }
            (Some(_), None) => vec![format!("{method} {t} {status}: a JSON body is declared")],
            (None, Some(_)) => vec![format!("{method} {t} {status}: no body is declared")],
            (None, None) => vec![],
        }
    }

    /// A minimal instance of the component schema `name` that the schema
    /// accepts: every required property, the first of each choice.
    pub fn example(&self, name: &str) -> Value {
        let s = &self.doc["components"]["schemas"][name];
        let v = self.instance(s, 0);
        let errors = self.validate(&["components", "schemas", name], &v);
        assert!(
            errors.is_empty(),
            "the generated {name} is not valid: {errors:?}"
        );
        v
    }

    fn instance(&self, s: &Value, depth: usize) -> Value {
        let s = self.resolve(s);
        if depth > 40 {
            return Value::Null;
        }
        if let Some(e) = s
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return e.clone();
        }
        for k in ["anyOf", "oneOf"] {
            if let Some(first) = s.get(k).and_then(Value::as_array).and_then(|a| a.first()) {
                return self.instance(first, depth + 1);
            }
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            let mut m = Map::new();
            for part in all {
                if let Value::Object(o) = self.instance(part, depth + 1) {
                    m.extend(o);
                }
            }
            return Value::Object(m);
        }
        let t = match s.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null")
                .to_string(),
            _ if s.get("properties").is_some() => "object".into(),
            _ => return Value::Null,
        };
        match t.as_str() {
            "object" => {
                let mut m = Map::new();
                for r in s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let k = r.as_str().unwrap_or_default();
                    let prop = &s["properties"][k];
                    m.insert(k.to_string(), self.instance(prop, depth + 1));
                }
                Value::Object(m)
            }
            "array" => json!([]),
            "integer" | "number" => json!(s.get("minimum").cloned().unwrap_or(json!(1))),
            "boolean" => json!(false),
            "string" => match s.get("format").and_then(Value::as_str) {
                Some("date-time") => json!("2026-12-07T00:00:00Z"),
                Some("uri") => json!("https://forge.invalid/x"),
                Some("email") => json!("x@forge.invalid"),
                _ => json!("x"),
            },
            _ => Value::Null,
        }
    }
}

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// JSON body, when there is one.
    pub body: Option<Value>,
}

/// What the handler answers.
pub struct Response {
    /// Status.
    pub status: u16,
    /// JSON body.
    pub body: Option<Value>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Given by what stands before the API (GitLab's rate limiter answers
    /// 429 before any endpoint runs): not held to the description.
    pub before_api: bool,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: Value) -> Response {
        Response {
            status,
            body: Some(body),
            headers: Vec::new(),
            before_api: false,
        }
    }

    /// A status with no body.
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            body: None,
            headers: Vec::new(),
            before_api: false,
        }
    }

    /// An answer from in front of the API (a rate limiter's 429 with
    /// `Retry-After`), which the description does not cover.
    pub fn before_api(status: u16, retry_after: Option<u64>) -> Response {
        Response {
            status,
            body: None,
            headers: retry_after
                .map(|a| ("Retry-After".to_string(), a.to_string()))
                .into_iter()
                .collect(),
            before_api: true,
        }
    }
}

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every request, in order.
    pub log: Arc<Mutex<Vec<Request>>>,
    /// Every violation of the description.
    pub violations: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Serves `handler` under `prefix` (GitLab's `/api/v4`), checked
    /// against `spec`, on a loopback port, until the test ends.
    pub fn start(
        spec: Arc<Spec>,
        prefix: &'static str,
        handler: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let (l, v) = (log.clone(), violations.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let Some(req) = read_request(&mut stream) else {
                    continue;
                };
                let path = req
                    .path
                    .strip_prefix(prefix)
                    .unwrap_or(&req.path)
                    .to_string();
                let mut found = spec.check_request(&req.method, &path, req.body.as_ref());
                let resp = if found.is_empty() {
                    let r = handler(&req);
                    if !r.before_api {
                        found.extend(spec.check_response(
                            &req.method,
                            &path,
                            r.status,
                            r.body.as_ref(),
                        ));
                    }
                    r
                } else {
                    Response::json(599, json!({"message": found.join("; ")}))
                };
                l.lock().unwrap().push(req);
                v.lock().unwrap().extend(found);
                let body = resp.body.map(|b| b.to_string()).unwrap_or_default();
                let mut head = format!(
                    "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                    resp.status,
                    body.len()
                );
                for (k, val) in resp.headers {
                    head.push_str(&format!("{k}: {val}\r\n"));
                }
                head.push_str("\r\n");
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        Server {
            url,
            log,
            violations,
        }
    }

    /// Every violation so far.
    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Request> {
    let mut r = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: (len > 0)
            .then(|| serde_json::from_slice(&body).unwrap_or(Value::String("<not JSON>".into()))),
    })
}
