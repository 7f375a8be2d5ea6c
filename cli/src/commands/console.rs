//! `iogrid console`: serves the web console (app/, built by `scripts/app-build`)
//! beside a cluster. The console is static files; this server adds what the
//! browser cannot find by itself:
//! - `GET /config.json`: the JSON-RPC and websocket URLs, the program, the
//!   wallet-standard chain, the keeper's API and the workload templates;
//! - `GET /templates/<name>.json`: a template's canonical spec, the bytes a
//!   job commits to by SHA-256 (the browser hashes them itself and uploads
//!   them to the keeper before it escrows).
//!
//! It holds no key: every transaction is signed in the user's wallet.

use {
    crate::commands::job::template_dir,
    anyhow::{ensure, Context, Result},
    axum::{
        extract::{Path as UrlPath, State},
        http::{header, StatusCode},
        response::{IntoResponse, Response},
        routing::get,
        Json, Router,
    },
    iogrid_sdk::{workload::WorkloadSpec, PROGRAM_ID},
    serde::Serialize,
    sha2::{Digest, Sha256},
    std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, sync::Arc},
    tower_http::services::{ServeDir, ServeFile},
};

#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    /// Address the console listens on.
    #[arg(long, default_value = "127.0.0.1:8800")]
    pub listen: SocketAddr,
    /// The built console (`scripts/app-build` writes app/dist).
    #[arg(long, default_value = "app/dist")]
    pub dir: PathBuf,
    /// The keeper's HTTP API, where the browser uploads template specs and
    /// reads why a job does not match.
    #[arg(long, default_value = "http://127.0.0.1:8780")]
    pub keeper_url: String,
    /// Workload templates offered on the deploy page (directories with a
    /// workload.toml).
    #[arg(long, default_value = "templates")]
    pub templates: PathBuf,
    /// The websocket URL of the cluster (default: the JSON-RPC URL's port
    /// + 1, ws:// for http://, as the Solana CLI derives it).
    #[arg(long)]
    pub ws_url: Option<String>,
}

/// What the browser reads at start.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleConfig {
    pub rpc_url: String,
    pub ws_url: String,
    pub program_id: String,
    /// The wallet-standard chain wallets must sign for.
    pub chain: String,
    pub keeper_url: String,
    pub templates: Vec<TemplateInfo>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TemplateInfo {
    pub name: String,
    /// The first comment paragraph of its workload.toml.
    pub description: String,
    /// Hex SHA-256 of the canonical spec: the job's workload hash.
    pub sha256: String,
}

struct Served {
    config: ConsoleConfig,
    specs: BTreeMap<String, Vec<u8>>,
}

/// The websocket URL the Solana CLI pairs with a JSON-RPC URL.
pub fn websocket_url_for(rpc_url: &str) -> String {
    let (scheme, rest) = match rpc_url.split_once("://") {
        Some(("https", rest)) => ("wss", rest),
        Some((_, rest)) => ("ws", rest),
        None => ("ws", rpc_url),
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = match host.rsplit_once(':') {
        Some((name, port)) if port.parse::<u16>().is_ok() => {
            format!("{name}:{}", port.parse::<u16>().unwrap().saturating_add(1))
        }
        _ => host.to_string(),
    };
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    format!("{scheme}://{host}{path}")
}

/// The wallet-standard chain of a cluster URL.
pub fn chain_for(rpc_url: &str) -> &'static str {
    if rpc_url.contains("devnet") {
        "solana:devnet"
    } else if rpc_url.contains("testnet") {
        "solana:testnet"
    } else if rpc_url.contains("mainnet") {
        "solana:mainnet"
    } else {
        "solana:localnet"
    }
}

/// Every template under `root`: name, description and canonical spec.
fn load_templates(root: &std::path::Path) -> Result<Vec<(TemplateInfo, Vec<u8>)>> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("workload.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let dir = template_dir(&root.join(&name).display().to_string())?;
            let spec = WorkloadSpec::from_template(&dir)
                .with_context(|| format!("the template at {}", dir.display()))?;
            let bytes = spec.to_canonical_json();
            let toml = std::fs::read_to_string(dir.join("workload.toml"))?;
            let info = TemplateInfo {
                name,
                description: leading_comment(&toml),
                sha256: hex(&Sha256::digest(&bytes)),
            };
            Ok((info, bytes))
        })
        .collect()
}

/// The first paragraph of `#` comments, joined into one line.
fn leading_comment(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .take_while(|line| line.starts_with('#'))
        .map(|line| line.trim_start_matches('#').trim())
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The console's router: config, template specs, then the static app with
/// index.html for any other path (the app routes in the browser).
pub fn router(args: &ConsoleArgs, rpc_url: &str) -> Result<Router> {
    let index = args.dir.join("index.html");
    ensure!(
        index.is_file(),
        "{} has no built console: run scripts/app-build first",
        args.dir.display()
    );
    let templates = load_templates(&args.templates)?;
    let config = ConsoleConfig {
        rpc_url: rpc_url.to_string(),
        ws_url: args
            .ws_url
            .clone()
            .unwrap_or_else(|| websocket_url_for(rpc_url)),
        program_id: PROGRAM_ID.to_string(),
        chain: chain_for(rpc_url).to_string(),
        keeper_url: args.keeper_url.trim_end_matches('/').to_string(),
        templates: templates.iter().map(|(info, _)| info.clone()).collect(),
    };
    let specs = templates
        .into_iter()
        .map(|(info, bytes)| (info.name, bytes))
        .collect();
    let served = Arc::new(Served { config, specs });
    let app = ServeDir::new(&args.dir).not_found_service(ServeFile::new(index));
    Ok(Router::new()
        .route("/config.json", get(config_json))
        .route("/templates/{file}", get(template_spec))
        .with_state(served)
        .fallback_service(app))
}

async fn config_json(State(served): State<Arc<Served>>) -> Json<ConsoleConfig> {
    Json(served.config.clone())
}

async fn template_spec(
    State(served): State<Arc<Served>>,
    UrlPath(file): UrlPath<String>,
) -> Response {
    let name = file.strip_suffix(".json").unwrap_or(&file);
    match served.specs.get(name) {
        Some(bytes) => {
            ([(header::CONTENT_TYPE, "application/json")], bytes.clone()).into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no template {name:?}")).into_response(),
    }
}

/// Serves until Ctrl-C.
pub async fn execute(args: &ConsoleArgs, rpc_url: &str) -> Result<()> {
    let app = router(args, rpc_url)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    println!(
        "iogrid console at http://{} (cluster {rpc_url})",
        args.listen
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving the console")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_urls_follow_the_solana_cli() {
        assert_eq!(
            websocket_url_for("http://127.0.0.1:8899"),
            "ws://127.0.0.1:8900"
        );
        assert_eq!(
            websocket_url_for("https://api.devnet.solana.com"),
            "wss://api.devnet.solana.com"
        );
        assert_eq!(
            websocket_url_for("http://10.77.0.1:8899/rpc"),
            "ws://10.77.0.1:8900/rpc"
        );
        assert_eq!(chain_for("http://127.0.0.1:8899"), "solana:localnet");
        assert_eq!(chain_for("https://api.devnet.solana.com"), "solana:devnet");
    }

    #[test]
    fn templates_carry_their_description_and_spec_hash() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
        let templates = load_templates(&root).unwrap();
        let tune = templates
            .iter()
            .find(|(info, _)| info.name == "tune")
            .unwrap();
        assert!(
            tune.0.description.starts_with("Ray Tune"),
            "{}",
            tune.0.description
        );
        assert_eq!(tune.0.sha256, hex(&Sha256::digest(&tune.1)));
        assert!(load_templates(std::path::Path::new("/nonexistent"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_unbuilt_console_is_refused_with_the_fix() {
        let args = ConsoleArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            dir: "/nonexistent".into(),
            keeper_url: "http://127.0.0.1:8780".into(),
            templates: "templates".into(),
            ws_url: None,
        };
        let err = router(&args, "http://127.0.0.1:8899")
            .unwrap_err()
            .to_string();
        assert!(err.contains("scripts/app-build"), "{err}");
    }
}
