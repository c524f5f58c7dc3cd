//! Real client libraries, pointed at the emulator instead of the platforms: what a developer
//! rehearsing their own bot offline does. The libraries come from PyPI and npm, installed by
//! `scripts/compat/setup.sh` into `target/compat` (`.ci/run` and `scripts/test.sh` run it first);
//! without them these tests fail and say how to install them — they never skip.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::*;
use switchboard_emulator::{EmulatorConfig, EmulatorHandle, TelegramUser};

const CHAT: i64 = 700_001;

fn compat_dir() -> PathBuf {
    std::env::var_os("SWITCHBOARD_COMPAT_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/compat"),
        PathBuf::from,
    )
}

fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/compat")
}

fn installed(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/compat/setup.sh (it installs the client libraries the \
         compatibility tests drive)",
        path.display()
    );
    path
}

/// Runs a library's script with `env`; its own checks print as they pass.
async fn run(program: PathBuf, script: &str, env: &[(&str, String)]) {
    let out = tokio::process::Command::new(program)
        .arg(scripts_dir().join(script))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .expect("the script starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
}

fn customer() -> TelegramUser {
    TelegramUser::new(CHAT, "Dana").with_username("dana")
}

async fn emulator_without_limits() -> EmulatorHandle {
    emulator_with(EmulatorConfig {
        telegram_rate_limits: false,
        ..EmulatorConfig::default()
    })
    .await
}

#[tokio::test]
async fn python_telegram_bot_cannot_tell_the_emulator_from_telegram() {
    let python = installed(compat_dir().join("venv/bin/python"));
    let emu = emulator_without_limits().await;
    let limited = emulator().await;
    limited.telegram_register_user(BOT_TOKEN, customer());
    let asked = emu
        .telegram_user_sends_text(BOT_TOKEN, customer(), "Where is my order? shop.test/o/1")
        .await;
    assert!(asked.ok, "{asked:?}");
    let (_, updates) = get_json(
        &client(),
        &format!("{}/bot{BOT_TOKEN}/getUpdates", emu.base_url()),
    )
    .await;
    let asked_id = updates["result"][0]["message"]["message_id"]
        .as_i64()
        .expect("the user's message");
    run(
        python,
        "telegram_ptb.py",
        &[
            ("EMULATOR", emu.base_url()),
            ("LIMITED", limited.base_url()),
            ("BOT_TOKEN", BOT_TOKEN.to_owned()),
            ("CHAT_ID", CHAT.to_string()),
            ("ASKED", asked_id.to_string()),
        ],
    )
    .await;
}

#[tokio::test]
async fn messaging_api_messenger_cannot_tell_the_emulator_from_the_graph_api() {
    let node_modules = installed(compat_dir().join("node/node_modules"));
    let emu = emulator().await;
    let (psid, blocked) = ("6100000000000001", "6100000000000002");
    for person in [psid, blocked] {
        emu.messenger_register_user(PAGE, person);
        // Writing opens their window (the delivery itself has nowhere to go: no webhook here).
        emu.messenger_user_sends_text(PAGE, person, "hi").await;
    }
    emu.messenger_user_blocks_page(PAGE, blocked);
    let out = tokio::process::Command::new("node")
        .arg(scripts_dir().join("messenger_client.js"))
        .env("NODE_PATH", &node_modules)
        .envs([
            ("EMULATOR", emu.base_url()),
            ("PAGE_TOKEN", PAGE_TOKEN.to_owned()),
            ("APP_SECRET", APP_SECRET.to_owned()),
            ("PSID", psid.to_owned()),
            ("BLOCKED", blocked.to_owned()),
            ("STRANGER", "6100000000000099".to_owned()),
        ])
        .output()
        .await
        .expect("node starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "messenger_client.js failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
