//! The binary's own commands, run as a user would run them.

use std::process::Command;

fn switchboard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .expect("run switchboard")
}

#[test]
fn the_demo_plays_its_conversation_and_answers_each_customer_message_once() {
    let out = switchboard(&["demo", "--script-only", "--listen", "127.0.0.1:0"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Welcome, FAQ, three bot questions, the carousel, the bot's goodbye, one default reply for
    // the retried delivery, the hand-over message and then silence; welcome, FAQ, the away
    // message and goodbye on Telegram.
    assert!(
        stdout.contains("9 Messenger and 4 Telegram messages sent"),
        "{stdout}"
    );
    assert!(
        stdout.contains("a webhook with a forged signature") && stdout.contains("→ webhook 403"),
        "{stdout}"
    );
    for shown in [
        "Welcome Ann!",
        "Yes! We ship worldwide",
        "bot (Gifty) read       [card] Ceramic mug · [card] Silk scarf",
        "What is your budget for mum?",
        "I'll get a colleague for you",
        "came from ref \"summer_qr\") — waiting for a human",
        "Selamat datang, Budi!",
        "Hari ini kami libur dan buka lagi besok pukul 09.00.",
        "Anda sudah berhenti berlangganan",
    ] {
        assert!(stdout.contains(shown), "{shown:?} missing from:\n{stdout}");
    }
    assert!(
        stdout.contains("came from ref \"summer_qr\"")
            && stdout.contains("came from ref \"promo1\""),
        "{stdout}"
    );
}

#[test]
fn migrate_creates_a_sqlite_database_and_is_idempotent() {
    let path = std::env::temp_dir().join(format!("sb-migrate-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    for _ in 0..2 {
        let out = switchboard(&["migrate", "--database-url", &url]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied (sqlite)"));
    }
    assert!(path.exists());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[test]
fn an_unsupported_database_url_is_a_clear_error() {
    let out = switchboard(&["migrate", "--database-url", "mysql://root@127.0.0.1/x"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported database url"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `switchboard user create`, with the password on standard input.
fn create_user(url: &str, email: &str, role: &str, password: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "user",
            "create",
            "--database-url",
            url,
            "--email",
            email,
            "--name",
            "Olga",
            "--role",
            role,
            "--password-stdin",
        ])
        .env("SWITCHBOARD_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run switchboard");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password");
    child.wait_with_output().expect("wait")
}

#[test]
fn the_first_owner_is_created_from_the_command_line_and_the_password_never_echoes() {
    let path = std::env::temp_dir().join(format!("sb-user-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    let secret = "a long bootstrap password";

    let out = create_user(&url, "agent@example.com", "agent", secret);
    assert!(!out.status.success(), "the first user must be an owner");
    assert!(String::from_utf8_lossy(&out.stderr).contains("first user must be an owner"));

    let out = create_user(&url, "Owner@Example.com", "owner", secret);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("owner@example.com (owner)"), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret));

    let out = create_user(&url, "owner@example.com", "owner", secret);
    assert!(!out.status.success(), "the address is taken");
    let out = create_user(&url, "short@example.com", "agent", "short");
    assert!(!out.status.success(), "a too-short password is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
