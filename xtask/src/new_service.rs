//! `cargo xtask new-service <name>`: a backend service in the shop's shape, wired in everywhere
//! it must appear. Files come from `xtask/templates/`; shared files get their entries at the
//! lines marked `xtask:new-service:<place>`.

use std::path::Path;

use anyhow::{Context as _, bail, ensure};
use serde::Deserialize;

/// What the templates are filled with.
#[derive(Debug)]
struct Names {
    /// `reviews`
    name: String,
    /// `Reviews`
    title: String,
    /// `REVIEWS`
    upper: String,
    public: u16,
    admin: u16,
}

impl Names {
    fn fill(&self, template: &str) -> String {
        template
            .replace("{{name}}", &self.name)
            .replace("{{Name}}", &self.title)
            .replace("{{NAME}}", &self.upper)
            .replace("{{public}}", &self.public.to_string())
            .replace("{{admin}}", &self.admin.to_string())
    }
}

#[derive(Debug, Deserialize)]
struct Table {
    service: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    name: String,
    #[serde(default)]
    http: bool,
    public: u16,
    admin: u16,
}

/// Words a service may not be called: Rust keywords and names the workspace already uses.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
    "common",
    "shop",
    "google",
    "kernel",
    "platform",
    "auth",
    "events",
    "messaging",
    "proto",
    "testkit",
    "client",
    "xtask",
];

fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    ensure!(
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name.len() <= 20,
        "{name:?} is not a service name: lower-case letters and digits, starting with a letter, \
         at most 20"
    );
    ensure!(
        !RESERVED.contains(&name),
        "{name:?} is reserved (a Rust keyword or a name the workspace uses)"
    );
    Ok(())
}

/// Runs the task.
pub fn run(root: &Path, name: &str, public: Option<u16>, admin: Option<u16>) -> anyhow::Result<()> {
    check_name(name)?;
    let table: Table =
        toml::from_str(&read(&root.join("services.toml"))?).context("reading services.toml")?;
    if table.service.iter().any(|s| s.name == name) {
        bail!("services.toml already has a service named {name:?}");
    }
    let taken: Vec<u16> = table
        .service
        .iter()
        .flat_map(|s| [s.public, s.admin])
        .collect();
    let next = |ports: Vec<u16>| ports.into_iter().max().unwrap_or(0).saturating_add(1);
    let names = Names {
        name: name.to_owned(),
        title: title(name),
        upper: name.to_uppercase(),
        public: public.unwrap_or_else(|| {
            next(
                table
                    .service
                    .iter()
                    .filter(|s| !s.http)
                    .map(|s| s.public)
                    .collect(),
            )
        }),
        admin: admin.unwrap_or_else(|| next(table.service.iter().map(|s| s.admin).collect())),
    };
    for port in [names.public, names.admin] {
        ensure!(
            !taken.contains(&port),
            "port {port} is taken in services.toml"
        );
    }
    ensure!(names.public != names.admin, "the two ports must differ");

    let templates = root.join("xtask/templates");
    copy_tree(
        &templates.join("service"),
        &root.join("services").join(name),
        &names,
    )?;
    copy_tree(
        &templates.join("proto"),
        &root.join("proto/shop").join(name).join("v1"),
        &names,
    )?;
    copy_tree(
        &templates.join("k8s/base"),
        &root.join("k8s/base").join(name),
        &names,
    )?;
    for (file, place, entry) in ENTRIES {
        insert(&root.join(file), place, &names.fill(entry))?;
    }
    append(
        &root.join("infra/postgres/01-databases.sql"),
        &names.fill(DATABASE),
    )?;
    append(
        &root.join("k8s/istio/mesh/peerauthentication.yaml"),
        &names.fill(ADMIN_PLAINTEXT),
    )?;
    write_new(
        &root
            .join("k8s/overlays/prod/secrets.example")
            .join(format!("{name}.env")),
        &names.fill(PROD_SECRETS),
    )?;
    add_to_datastore_lists(
        &root.join("k8s/overlays/dev/datastores/networkpolicy.yaml"),
        name,
    )?;
    // Lines that fit one name may not fit another: leave the code as rustfmt writes it.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let formatted = std::process::Command::new(cargo)
        .args(["fmt", "--all"])
        .current_dir(root)
        .status()
        .context("running cargo fmt")?;
    ensure!(formatted.success(), "cargo fmt failed on the new service");

    println!(
        "shop-{name} is in place: gRPC port {}, admin port {}.\n\
         Next: cargo nextest run -p shop-{name}   (its integration test, on real infrastructure)\n\
         \x20     scripts/validate-deploy.sh        (compose, Kubernetes, Istio, Prometheus)\n\
         Then give it its own domain: rename the notes, and add its callers to its\n\
         authorization table (services/{name}/src/adapters/grpc.rs), the mesh's policies and\n\
         its NetworkPolicy.",
        names.public, names.admin
    );
    Ok(())
}

/// `reviews` -> `Reviews`.
fn title(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    ensure!(!path.exists(), "{} exists already", path.display());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Copies a template directory, filling names in paths (`__name__`) and contents.
fn copy_tree(from: &Path, to: &Path, names: &Names) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().replace("__name__", &names.name))
            .unwrap_or_default();
        let target = to.join(file_name);
        if path.is_dir() {
            copy_tree(&path, &target, names)?;
        } else {
            write_new(&target, &names.fill(&read(&path)?))?;
        }
    }
    Ok(())
}

/// Inserts `text` after the line marked `xtask:new-service:<place>` in `path` (the marker
/// stays, for the next service).
fn insert(path: &Path, place: &str, text: &str) -> anyhow::Result<()> {
    let content = read(path)?;
    let marker = format!("xtask:new-service:{place}");
    let after_marker = content
        .find(&marker)
        .map(|at| {
            content[at..]
                .find('\n')
                .map_or(content.len(), |nl| at + nl + 1)
        })
        .with_context(|| format!("{} has no line marked {marker}", path.display()))?;
    let mut updated = content[..after_marker].to_owned();
    updated.push_str(text);
    updated.push_str(&content[after_marker..]);
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut content = read(path)?;
    content.push_str(text);
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

/// Lets the new service reach the in-cluster data stores: its name joins every
/// `values: [...]` list of services in the dev overlay's data store policies.
fn add_to_datastore_lists(path: &Path, name: &str) -> anyhow::Result<()> {
    let content = read(path)?;
    let mut changed = 0;
    let updated: Vec<String> = content
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("values: [") && line.contains("payment") {
                changed += 1;
                line.replacen("payment", &format!("payment, {name}"), 1)
            } else {
                line.to_owned()
            }
        })
        .collect();
    ensure!(
        changed > 0,
        "{} lists no services to add {name} to",
        path.display()
    );
    std::fs::write(path, updated.join("\n") + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// Entries in shared files: (file, marked place, text inserted after the marker).
const ENTRIES: &[(&str, &str, &str)] = &[
    ("Cargo.toml", "members", "    \"services/{{name}}\",\n"),
    (
        "Cargo.toml",
        "dependencies",
        "shop-{{name}} = { path = \"services/{{name}}\" }\n",
    ),
    (
        "services.toml",
        "table",
        "\n[[service]]\nname = \"{{name}}\"\npublic = {{public}}\nadmin = {{admin}}\n",
    ),
    (
        "libs/events/src/subscriptions.rs",
        "subscriptions",
        "\n/// {{Name}}: every confirmed order leaves a note.\n\
         pub const {{NAME}}_ORDER_CONFIRMED: Subscription = Subscription {\n\
         \x20   queue: \"{{name}}.order-confirmed\",\n\
         \x20   event_types: &[OrderConfirmed::TYPE],\n\
         };\n",
    ),
    (
        "libs/events/src/subscriptions.rs",
        "all-subscriptions",
        "    {{NAME}}_ORDER_CONFIRMED,\n",
    ),
    ("docker-compose.yml", "compose", COMPOSE),
    (
        "infra/prometheus/prometheus.yml",
        "targets",
        "      - targets: [\"{{name}}:{{admin}}\"]\n        labels: {app: {{name}}}\n",
    ),
    ("k8s/base/kustomization.yaml", "resources", "  - {{name}}\n"),
    (
        "k8s/base/kustomization.yaml",
        "images",
        "  - name: ferris-shop/{{name}}\n    newTag: \"0.1.0\"\n",
    ),
    (
        "k8s/base/user/networkpolicy.yaml",
        "callers-of-user",
        "        - podSelector:\n            matchLabels:\n              app.kubernetes.io/name: {{name}}\n",
    ),
    (
        "k8s/overlays/dev/kustomization.yaml",
        "images",
        "  - name: ferris-shop/{{name}}\n    newTag: dev\n",
    ),
    (
        "k8s/overlays/dev/kustomization.yaml",
        "secrets",
        DEV_SECRETS,
    ),
    (
        "k8s/overlays/prod/kustomization.yaml",
        "images",
        "  - name: ferris-shop/{{name}}\n    newName: registry.example.com/ferris-shop/{{name}}\n    newTag: \"0.1.0\"\n",
    ),
    (
        "k8s/istio/mesh/authorization.yaml",
        "jwks-readers",
        "              - cluster.local/ns/ferris-shop/sa/{{name}}\n",
    ),
];

const COMPOSE: &str = "
  {{name}}:
    <<: *service
    build: {context: ., args: {SERVICE: {{name}}}}
    image: ferris-shop/{{name}}:dev
    environment:
      <<: *common-env
      SHOP_DATABASE__URL: postgres://{{name}}_svc:{{name}}_svc@postgres:5432/{{name}}
      SHOP_REDIS__URL: redis://redis:6379
      SHOP_UPSTREAM__USER: http://user:50051
    depends_on:
      <<: *infra-ready
      user:
        condition: service_healthy
";

const DEV_SECRETS: &str = "  - name: {{name}}-secrets
    literals:
      - SHOP_DATABASE__URL=postgres://{{name}}_svc:{{name}}_svc@postgres:5432/{{name}}
      - SHOP_AMQP__URL=amqp://shop:shop@rabbitmq:5672/%2f
      - SHOP_REDIS__URL=redis://redis:6379
";

const DATABASE: &str = "
CREATE ROLE {{name}}_svc LOGIN PASSWORD '{{name}}_svc';
CREATE DATABASE {{name}} OWNER {{name}}_svc;
REVOKE ALL ON DATABASE {{name}} FROM PUBLIC;
";

const ADMIN_PLAINTEXT: &str = "---
# The admin port of shop-{{name}} also accepts plain text, so a Prometheus outside the mesh can
# scrape /metrics. The public port stays STRICT.
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: {{name}}-admin
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: {{name}}
  mtls:
    mode: STRICT
  portLevelMtls:
    \"{{admin}}\":
      mode: PERMISSIVE
";

const PROD_SECRETS: &str = "# kubectl -n ferris-shop create secret generic {{name}}-secrets --from-env-file={{name}}.env
SHOP_DATABASE__URL=postgres://{{name}}_svc:CHANGE-ME@postgres.example.internal:5432/{{name}}?sslmode=require
SHOP_AMQP__URL=amqps://{{name}}:CHANGE-ME@rabbitmq.example.internal:5671/%2f
SHOP_REDIS__URL=rediss://:CHANGE-ME@redis.example.internal:6380
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_filled_in() {
        assert!(check_name("reviews").is_ok());
        for bad in ["Reviews", "re-views", "1st", "type", "common", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let names = Names {
            name: "reviews".into(),
            title: title("reviews"),
            upper: "REVIEWS".into(),
            public: 50055,
            admin: 9085,
        };
        assert_eq!(
            names.fill("{{Name}}Service on {{public}}/{{admin}}: {{NAME}}_{{name}}"),
            "ReviewsService on 50055/9085: REVIEWS_reviews"
        );
    }
}
