//! Real `switchboard serve` processes for the process-level tests: start one on a database,
//! wait until it serves, kill it.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The admin token every process started here accepts.
pub const ADMIN_TOKEN: &str = "process-test-admin";

pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A `switchboard serve` child process and its base URL; killed when dropped.
pub struct Node {
    pub child: Child,
    pub base: String,
}

/// Starts `switchboard serve` on `db_url` with `graph` as the Graph API, under `node` as its
/// node id, logging at `log`.
pub fn serve(db_url: &str, graph: &str, node: &str, log: &str) -> Node {
    let listen = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env("SWITCHBOARD_DATABASE_URL", db_url)
        .env("SWITCHBOARD_LISTEN", listen.to_string())
        .env("SWITCHBOARD_GRAPH_API_URL", graph)
        .env("SWITCHBOARD_NODE_ID", node)
        .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SWITCHBOARD_LOG", log)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn switchboard");
    Node {
        child,
        base: format!("http://{listen}"),
    }
}

impl Node {
    /// Healthy means started: the dispatcher's restart recovery ran before the listener served.
    pub async fn wait_healthy(&self, http: &reqwest::Client) {
        for _ in 0..400 {
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server at {} did not become healthy", self.base);
    }

    pub async fn sigkill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reaped");
    }
}
