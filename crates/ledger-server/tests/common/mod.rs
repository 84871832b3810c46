//! What the server tests share: a real server on 127.0.0.1 on an
//! ephemeral port, and a client.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

/// A running server.
pub(crate) struct Running {
    pub(crate) base: String,
    pub(crate) client: Client,
    pub(crate) handle: axum_server::Handle,
    pub(crate) task: tokio::task::JoinHandle<Result<(), ledger_server::ServeError>>,
}

impl Running {
    pub(crate) async fn stop(self) {
        self.handle
            .graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        self.task.await.unwrap().unwrap();
    }

    pub(crate) fn req(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Waits (up to 5 s) until the server's own checkpointing has signed
    /// the whole log, and returns the note.
    pub(crate) async fn signed_note(&self, token: &str) -> String {
        let size = self.log_size().await.to_string();
        for _ in 0..100 {
            let r = self
                .req(Method::GET, "/v1/checkpoint", Some(token))
                .send()
                .await
                .unwrap();
            if r.status() == StatusCode::OK {
                let note = r.text().await.unwrap();
                if note.lines().nth(1) == Some(size.as_str()) {
                    return note;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no checkpoint of size {size} within 5 s");
    }

    pub(crate) async fn log_size(&self) -> u64 {
        let v: Value = self
            .req(Method::GET, "/readyz", None)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["log_size"].as_u64().unwrap()
    }
}

pub(crate) fn init_ledger(dir: &Path) {
    let ledger = ledger_core::Ledger::open(dir, ledger_core::LedgerOptions::default()).unwrap();
    drop(ledger_vault::Vault::open(ledger, ledger_vault::VaultOptions::default()).unwrap());
}

pub(crate) async fn start(dir: &Path) -> Running {
    start_with(dir, None).await
}

pub(crate) async fn start_with(dir: &Path, controller: Option<&Path>) -> Running {
    let state = ledger_server::open_state(dir, controller, Default::default()).unwrap();
    run_state(state).await
}

pub(crate) async fn run_state(state: Arc<ledger_server::AppState>) -> Running {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = axum_server::Handle::new();
    let task = tokio::spawn(ledger_server::serve_on(
        listener,
        state,
        None,
        handle.clone(),
    ));
    Running {
        base: format!("http://{addr}"),
        client: Client::new(),
        handle,
        task,
    }
}
