//! The built-in rule set, written for safeimage. Each entry: id,
//! description, pattern (the secret is group 1 when there is one), keywords
//! (lowercase; one must appear for the pattern to run), entropy floor,
//! severity, and an optional path filter.
//!
//! Documented example values (AWS's `AKIAIOSFODNN7EXAMPLE` and its secret,
//! anything spelled with `EXAMPLE`) are recognised by [`is_example`] and
//! reported as `info`.

use crate::rule::{Allowlist, Rule, RuleError, Severity, compile};

struct Def {
    id: &'static str,
    description: &'static str,
    pattern: &'static str,
    keywords: &'static [&'static str],
    entropy: Option<f64>,
    severity: Severity,
    path: Option<&'static str>,
}

const fn def(
    id: &'static str,
    description: &'static str,
    pattern: &'static str,
    keywords: &'static [&'static str],
    entropy: Option<f64>,
    severity: Severity,
) -> Def {
    Def {
        id,
        description,
        pattern,
        keywords,
        entropy,
        severity,
        path: None,
    }
}

use Severity::{Critical, High, Medium};

const DEFS: &[Def] = &[
    def(
        "aws-access-key-id",
        "AWS access key ID",
        r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        &["akia", "asia", "abia", "acca"],
        None,
        High,
    ),
    def(
        "aws-secret-access-key",
        "AWS secret access key",
        r#"(?i)aws[\w.\-]{0,20}?(?:secret|sk|private)[\w.\-]{0,20}?['"]?\s*(?::=|=>|=|:)\s*['"]?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        &["aws"],
        Some(3.5),
        Critical,
    ),
    def(
        "gcp-service-account-key",
        "Google Cloud service-account key",
        r#""private_key_id"\s*:\s*"([a-f0-9]{40})""#,
        &["private_key_id"],
        None,
        Critical,
    ),
    def(
        "gcp-api-key",
        "Google Cloud API key",
        r"\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)",
        &["aiza"],
        Some(3.0),
        High,
    ),
    def(
        "azure-storage-account-key",
        "Azure storage account key",
        r#"(?i)(?:AccountKey|azure[\w.\-]{0,20}?key)\s*['"]?\s*[=:]\s*['"]?([A-Za-z0-9+/]{86}==)"#,
        &["accountkey", "azure"],
        Some(4.0),
        Critical,
    ),
    def(
        "github-pat",
        "GitHub personal access token",
        r"\b(ghp_[0-9A-Za-z]{36})\b",
        &["ghp_"],
        Some(3.0),
        Critical,
    ),
    def(
        "github-oauth",
        "GitHub OAuth access token",
        r"\b(gho_[0-9A-Za-z]{36})\b",
        &["gho_"],
        Some(3.0),
        Critical,
    ),
    def(
        "github-app-token",
        "GitHub app token (user-to-server or server-to-server)",
        r"\b((?:ghu|ghs)_[0-9A-Za-z]{36})\b",
        &["ghu_", "ghs_"],
        Some(3.0),
        Critical,
    ),
    def(
        "github-refresh-token",
        "GitHub refresh token",
        r"\b(ghr_[0-9A-Za-z]{36,76})\b",
        &["ghr_"],
        Some(3.0),
        Critical,
    ),
    def(
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token",
        r"\b(github_pat_[0-9A-Za-z_]{82})\b",
        &["github_pat_"],
        Some(3.0),
        Critical,
    ),
    def(
        "gitlab-pat",
        "GitLab personal, project or group access token",
        r"\b(glpat-[0-9A-Za-z_\-]{20,})\b",
        &["glpat-"],
        Some(3.0),
        Critical,
    ),
    def(
        "gitlab-runner-token",
        "GitLab runner authentication token",
        r"\b(glrt-[0-9A-Za-z_\-]{20,})\b",
        &["glrt-"],
        Some(3.0),
        High,
    ),
    def(
        "slack-token",
        "Slack token",
        r"\b(xox[bpaorse]-[0-9A-Za-z][0-9A-Za-z\-]{8,250})\b",
        &[
            "xoxb-", "xoxp-", "xoxa-", "xoxo-", "xoxr-", "xoxs-", "xoxe-",
        ],
        Some(3.0),
        High,
    ),
    def(
        "slack-webhook-url",
        "Slack incoming webhook URL",
        r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{8,}/[A-Za-z0-9+/]{8,}/[A-Za-z0-9+/]{16,})",
        &["hooks.slack.com"],
        None,
        High,
    ),
    def(
        "stripe-secret-key",
        "Stripe secret or restricted key",
        r"\b((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{20,99})\b",
        &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
        Some(3.0),
        Critical,
    ),
    def(
        "twilio-api-key",
        "Twilio API key",
        r"(?i)twilio[\w\s.\-:=\x22']{0,40}?\b(SK[0-9a-f]{32})\b",
        &["twilio"],
        Some(3.0),
        High,
    ),
    def(
        "sendgrid-api-key",
        "SendGrid API key",
        r"\b(SG\.[0-9A-Za-z_\-]{22}\.[0-9A-Za-z_\-]{43})\b",
        &["sg."],
        Some(4.0),
        High,
    ),
    def(
        "npm-access-token",
        "npm access token",
        r"\b(npm_[0-9A-Za-z]{36})\b",
        &["npm_"],
        Some(3.0),
        Critical,
    ),
    def(
        "npmrc-auth-token",
        "npm registry token in .npmrc",
        r"(?i)_authToken\s*=\s*([0-9A-Za-z\-_.+/=]{20,})",
        &["_authtoken"],
        Some(3.0),
        Critical,
    ),
    def(
        "pypi-upload-token",
        "PyPI upload token",
        r"\b(pypi-AgEIcHlwaS5vcmc[0-9A-Za-z\-_]{50,})",
        &["pypi-ageichlwas5vcmc"],
        None,
        Critical,
    ),
    Def {
        id: "docker-config-auth",
        description: "registry credentials in a Docker config.json",
        pattern: r#""auth"\s*:\s*"([A-Za-z0-9+/]{8,}={0,2})""#,
        keywords: &["\"auth\""],
        entropy: Some(2.5),
        severity: Critical,
        path: Some(r"(?:^|/)(?:\.docker/config\.json|\.dockercfg|config\.json|auth\.json)$"),
    },
    def(
        "private-key",
        "private key (PEM, OpenSSH, PGP)",
        r"(-----BEGIN[ A-Z0-9]{0,20}PRIVATE KEY(?: BLOCK)?-----(?:\\n|\s|[A-Za-z0-9+/=:,\-])*?[A-Za-z0-9+/=]{64}(?:\\n|\s|[A-Za-z0-9+/=:,\-])*?-----END[ A-Z0-9]{0,20}PRIVATE KEY(?: BLOCK)?-----)",
        &["private key"],
        None,
        Critical,
    ),
    def(
        "jwt",
        "JSON Web Token",
        r"\b(eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,})",
        &["eyj"],
        Some(3.0),
        Medium,
    ),
    def(
        "database-url-password",
        "database URL with a password",
        r"\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver)://[^:/\s'\x22@]{1,64}:([^@/\s'\x22$%{}<>]{3,128})@[\w.\-]+",
        &[
            "postgres",
            "mysql",
            "mariadb",
            "mongodb",
            "redis",
            "amqp",
            "mssql",
            "sqlserver",
        ],
        None,
        High,
    ),
    def(
        "generic-secret-assignment",
        "a password, secret, token or API key assigned a literal value",
        r#"(?i)(?:password|passwd|secret|token|api[_\-]?key|access[_\-]?key|private[_\-]?key|client[_\-]?secret)[\w.\-]{0,20}['"]?\s*(?::=|=>|=|:)\s*['"]([^'"\s$%{}<>]{10,128})['"]"#,
        &[
            "password",
            "passwd",
            "secret",
            "token",
            "apikey",
            "api_key",
            "api-key",
            "access_key",
            "access-key",
            "private_key",
            "client_secret",
        ],
        Some(3.6),
        Medium,
    ),
];

/// Values documentation uses: reported as examples (info), never as leaks.
pub fn is_example(secret: &[u8]) -> bool {
    let s = String::from_utf8_lossy(secret);
    s.contains("EXAMPLE") || s.contains("example") || s.contains("Example")
}

/// Placeholder passwords in URLs and assignments that are not secrets.
const STOPWORDS: &[&str] = &[
    "password",
    "secret",
    "pass",
    "changeme",
    "change_me",
    "placeholder",
    "redacted",
    "xxxxxx",
    "******",
    "dummy",
    "notasecret",
    "your_",
    "yourpass",
    "<",
    "${",
];

/// Documentation, examples, tests and mocks: where assignments of made-up
/// values live (the token-format rules still look there).
const DOCS_AND_TESTS: &str = r"(?i)(?:\.(?:md|markdown|rst|txt|adoc|html?)$|(?:^|/)(?:readme|changelog|changes|history)[^/]*$|(?:^|/)(?:docs?|man|examples?|samples?|tests?|__tests__|__mocks__|spec|fixtures?|testdata|[\w.\-]*mock[\w.\-]*)/)";

/// The built-in rules.
pub fn rules() -> Result<Vec<Rule>, RuleError> {
    DEFS.iter()
        .map(|d| {
            let mut r = Rule::new(d.id, d.description, d.pattern, d.keywords, d.entropy, d.severity)?;
            if let Some(p) = d.path {
                r.path = Some(compile(d.id, "path", p)?);
            }
            if matches!(d.id, "database-url-password" | "generic-secret-assignment") {
                r.allowlists.push(Allowlist {
                    description: "placeholders".into(),
                    stopwords: STOPWORDS.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                });
                r.allowlists.push(Allowlist {
                    description: "documentation and tests".into(),
                    paths: vec![compile(d.id, "allowlist", DOCS_AND_TESTS)?],
                    ..Default::default()
                });
            }
            if d.id == "generic-secret-assignment" {
                // a URL, a path or a dotted name is a reference, not a
                // secret; a value without a digit or with code punctuation
                // is a word or a pattern (lexers assign `token = "..."`)
                r.allowlists.push(Allowlist {
                    description: "references, words and code".into(),
                    regexes: vec![
                        compile(
                            d.id,
                            "allowlist",
                            r"^(?:[a-z][a-z0-9+.\-]*://|/|\.{0,2}/|[A-Za-z_][\w\-]*(?:\.[A-Za-z_][\w\-]*){2,}$)",
                        )?,
                        compile(d.id, "allowlist", r"^[^0-9]*$")?,
                        compile(d.id, "allowlist", r"[?,()\[\]\\|^*!;]")?,
                    ],
                    ..Default::default()
                });
            }
            Ok(r)
        })
        .collect()
}

/// Ids of the built-in rules.
pub fn ids() -> Vec<&'static str> {
    DEFS.iter().map(|d| d.id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    /// Deterministic pseudo-random text from `alphabet` (test values are
    /// made at run time; none is committed).
    fn random(seed: u64, n: usize, alphabet: &str) -> String {
        let a: Vec<char> = alphabet.chars().collect();
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                a[(x % a.len() as u64) as usize]
            })
            .collect()
    }

    const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const UPPER32: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const HEX: &str = "0123456789abcdef";

    fn found(e: &Engine, path: &str, text: &str) -> Vec<(String, String, bool)> {
        e.scan(path, text.as_bytes())
            .into_iter()
            .map(|h| (h.rule, h.secret, h.example))
            .collect()
    }

    #[test]
    fn every_builtin_rule_finds_a_realistic_value() {
        let e = Engine::builtin().unwrap();
        let key = format!("AKIA{}", random(1, 16, UPPER32));
        let secret = random(2, 40, B64);
        let ghp = format!("ghp_{}", random(3, 36, ALNUM));
        let cases: Vec<(&str, &str, String, String)> = vec![
            (
                "aws-access-key-id",
                "env",
                format!("AWS_ACCESS_KEY_ID={key}\n"),
                key.clone(),
            ),
            (
                "aws-secret-access-key",
                "env",
                format!("aws_secret_access_key = {secret}\n"),
                secret.clone(),
            ),
            (
                "github-pat",
                "x.sh",
                format!("git clone https://{ghp}@github.com/o/r\n"),
                ghp.clone(),
            ),
            (
                "github-oauth",
                "x",
                format!("token: gho_{}\n", random(4, 36, ALNUM)),
                String::new(),
            ),
            (
                "github-app-token",
                "x",
                format!("GH=ghs_{}\n", random(41, 36, ALNUM)),
                String::new(),
            ),
            (
                "github-refresh-token",
                "x",
                format!("r=ghr_{}\n", random(42, 76, ALNUM)),
                String::new(),
            ),
            (
                "gitlab-runner-token",
                "x",
                format!("token = glrt-{}\n", random(43, 20, ALNUM)),
                String::new(),
            ),
            (
                "github-fine-grained-pat",
                "x",
                format!("t=github_pat_{}\n", random(5, 82, ALNUM)),
                String::new(),
            ),
            (
                "gitlab-pat",
                "x",
                format!("GITLAB_TOKEN=glpat-{}\n", random(6, 20, ALNUM)),
                String::new(),
            ),
            (
                "slack-token",
                "x",
                format!(
                    "xoxb-{}-{}\n",
                    random(7, 12, "0123456789"),
                    random(8, 24, ALNUM)
                ),
                String::new(),
            ),
            (
                "slack-webhook-url",
                "x",
                format!(
                    "https://hooks.slack.com/services/T{}/B{}/{}\n",
                    random(9, 8, UPPER32),
                    random(10, 8, UPPER32),
                    random(11, 24, ALNUM)
                ),
                String::new(),
            ),
            (
                "stripe-secret-key",
                "x",
                format!("sk_live_{}\n", random(12, 24, ALNUM)),
                String::new(),
            ),
            (
                "twilio-api-key",
                "x",
                format!("TWILIO_API_KEY=SK{}\n", random(13, 32, HEX)),
                String::new(),
            ),
            (
                "sendgrid-api-key",
                "x",
                format!("SG.{}.{}\n", random(14, 22, ALNUM), random(15, 43, ALNUM)),
                String::new(),
            ),
            (
                "npm-access-token",
                "x",
                format!("npm_{}\n", random(16, 36, ALNUM)),
                String::new(),
            ),
            (
                "npmrc-auth-token",
                ".npmrc",
                format!(
                    "//registry.npmjs.org/:_authToken={}\n",
                    random(17, 36, ALNUM)
                ),
                String::new(),
            ),
            (
                "pypi-upload-token",
                "x",
                format!("password = pypi-AgEIcHlwaS5vcmc{}\n", random(18, 60, ALNUM)),
                String::new(),
            ),
            (
                "gcp-api-key",
                "x",
                format!("key=AIza{}\n", random(19, 35, ALNUM)),
                String::new(),
            ),
            (
                "gcp-service-account-key",
                "sa.json",
                format!(
                    "{{\"type\": \"service_account\", \"private_key_id\": \"{}\"}}",
                    random(20, 40, HEX)
                ),
                String::new(),
            ),
            (
                "azure-storage-account-key",
                "x",
                format!(
                    "DefaultEndpointsProtocol=https;AccountName=a;AccountKey={}==;\n",
                    random(21, 86, B64)
                ),
                String::new(),
            ),
            (
                "docker-config-auth",
                "root/.docker/config.json",
                format!(
                    "{{\"auths\":{{\"r\":{{\"auth\":\"{}\"}}}}}}",
                    random(22, 24, B64)
                ),
                String::new(),
            ),
            (
                "jwt",
                "x",
                format!(
                    "Bearer eyJ{}.eyJ{}.{}\n",
                    random(23, 20, ALNUM),
                    random(24, 30, ALNUM),
                    random(25, 43, ALNUM)
                ),
                String::new(),
            ),
            (
                "database-url-password",
                "x",
                format!(
                    "DATABASE_URL=postgres://app:{}@db.internal:5432/app\n",
                    random(26, 16, ALNUM)
                ),
                String::new(),
            ),
            (
                "generic-secret-assignment",
                "settings.py",
                format!("SECRET_KEY = \"{}\"\n", random(27, 32, ALNUM)),
                String::new(),
            ),
            (
                "private-key",
                "id_rsa",
                format!(
                    "-----BEGIN RSA PRIVATE KEY-----\n{}\n{}\n-----END RSA PRIVATE KEY-----\n",
                    random(28, 64, B64),
                    random(29, 64, B64)
                ),
                String::new(),
            ),
        ];
        for (rule, path, text, want) in &cases {
            let got = found(&e, path, text);
            assert!(
                got.iter()
                    .any(|(r, s, _)| r == rule && (want.is_empty() || s == want)),
                "{rule} not found in {text:?}: {got:?}"
            );
        }
        // every built-in rule has a case
        for id in ids() {
            assert!(cases.iter().any(|(r, ..)| *r == id), "no case for {id}");
        }
    }

    #[test]
    fn documented_examples_are_info_and_placeholders_are_nothing() {
        let e = Engine::builtin().unwrap();
        let hits = e.scan(
            "README",
            b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        );
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert!(
            hits.iter()
                .all(|h| h.example && h.severity == Severity::Info)
        );
        for quiet in [
            "DATABASE_URL=postgres://user:password@localhost/db",
            "DATABASE_URL=postgres://user:${DB_PASSWORD}@localhost/db",
            "password = \"changeme-changeme\"",
            "token = \"aaaaaaaaaaaaaaaa\"",
            "api_key: ${API_KEY}",
            "secret_name = 'my-app-secret'",
            "'Token' => 'https://metacpan.org/pod/HTTP::Token'",
            "secret_file = \"/run/secrets/db_password_file\"",
        ] {
            assert!(e.scan("x", quiet.as_bytes()).is_empty(), "{quiet}");
        }
    }

    #[test]
    fn gitleaks_allow_on_the_line_silences_it_and_lines_are_counted() {
        let e = Engine::builtin().unwrap();
        let tok = format!("ghp_{}", random(40, 36, ALNUM));
        let text = format!("a\nb\nx = \"{tok}\" # gitleaks:allow\ny = \"{tok}\"\n");
        let hits = e.scan("f", text.as_bytes());
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].line, hits[0].column), (4, 6));
        assert_eq!(crate::redact(&hits[0].secret), "ghp_****");
    }

    #[test]
    fn hostile_input_stays_linear() {
        let e = Engine::builtin().unwrap();
        let mut s = String::from("password = \"");
        s.push_str(&"a".repeat(2_000_000));
        let start = std::time::Instant::now();
        let _ = e.scan("x", s.as_bytes());
        let _ = e.scan(
            "x",
            "-----BEGIN RSA PRIVATE KEY-----\n"
                .repeat(50_000)
                .as_bytes(),
        );
        // not a timing assertion: the scan finishes (regex is linear time)
        let _ = start.elapsed();
    }
}
