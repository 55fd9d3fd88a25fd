//! The served OpenAPI document is valid and usable: the real `catchment serve` binary on
//! 127.0.0.1 (a throwaway database, stopped by PID) serves /openapi.json;
//! `openapi-spec-validator` accepts it; `openapi-python-client` generates a client from it, and
//! that client (tests/openapi/client.py) submits the demo instance, waits for the plan and reads
//! its summary, whose objective must equal `catchment solve`'s on the same files.
//!
//! The Python tools live in the venv `scripts/openapi-venv` creates (`scripts/setup` runs it).
//! Without it the test fails when `CI` is set and is skipped, loudly, otherwise.

mod common;

use common::http::get;
use common::server::{bin, demo_dir, Server, WRITE};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv of scripts/openapi-venv, complete and with the pins of
/// scripts/openapi-requirements.txt; otherwise why not.
fn venv() -> Result<PathBuf, String> {
    let dir = repo().join(".cache/openapi-venv");
    let pins = std::fs::read(repo().join("scripts/openapi-requirements.txt")).unwrap();
    let tools = ["python", "openapi-spec-validator", "openapi-python-client"];
    if let Some(t) = tools.iter().find(|t| !dir.join("bin").join(t).is_file()) {
        return Err(format!("{} has no bin/{t}", dir.display()));
    }
    if std::fs::read(dir.join("requirements.txt")).ok() != Some(pins) {
        return Err(format!(
            "{} does not hold the pins of scripts/openapi-requirements.txt",
            dir.display()
        ));
    }
    Ok(dir)
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The objective of `catchment solve` on the demo instance.
fn cli_objective(out: &Path) -> u64 {
    let d = demo_dir();
    run(Command::new(bin())
        .arg("solve")
        .arg("--schools")
        .arg(d.join("schools.csv"))
        .arg("--pupils")
        .arg(d.join("pupils.csv"))
        .arg("--matrix")
        .arg(d.join("matrix.csv"))
        .arg("--out")
        .arg(out));
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let certificate: Value =
        serde_json::from_slice(&std::fs::read(out.join("certificate.json")).unwrap()).unwrap();
    let objective = summary["solver"]["objective_m"].as_u64().unwrap();
    assert_eq!(certificate["objective_m"].as_u64(), Some(objective));
    objective
}

#[test]
fn the_document_is_valid_and_a_generated_client_gets_the_cli_plan() {
    let venv = match venv() {
        Ok(v) => v,
        Err(why) if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) => {
            panic!("the OpenAPI test venv is missing ({why}): run `bash scripts/setup` (or `bash scripts/openapi-venv`)")
        }
        Err(why) => {
            // Straight to stderr, not eprintln!: the test harness hides a passing test's output.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: tests/openapi.rs needs the venv of scripts/openapi-venv ({why}); run `bash scripts/openapi-venv` (with CI set this fails)"
            );
            return;
        }
    };
    let tools = venv.join("bin");
    let tmp = tempfile::tempdir().unwrap();
    let expected = cli_objective(&tmp.path().join("cli"));

    let s = Server::start(&tmp.path().join("c.db"), &[]);
    let r = get(s.addr, "/openapi.json", None);
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = tmp.path().join("openapi.json");
    std::fs::write(&doc, &r.body).unwrap();

    let o = run(Command::new(tools.join("openapi-spec-validator")).arg(&doc));
    eprintln!("openapi-spec-validator: {}", String::from_utf8_lossy(&o.stdout).trim());

    // The generator's post-hooks run ruff from the venv; any warning means it skipped a part.
    let client_dir = tmp.path().join("client");
    let path = std::env::join_paths(
        std::iter::once(tools.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let o = run(Command::new(tools.join("openapi-python-client"))
        .args(["generate", "--meta", "none", "--path"])
        .arg(&doc)
        .arg("--output-path")
        .arg(client_dir.join("catchment_client"))
        .env("PATH", &path));
    let said =
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(
        !said.to_ascii_lowercase().contains("warning"),
        "openapi-python-client warned about the document:\n{said}"
    );

    let o = run(Command::new(tools.join("python"))
        .arg(repo().join("tests/openapi/client.py"))
        .arg(&client_dir)
        .arg(format!("http://{}", s.addr))
        .arg(WRITE)
        .arg(demo_dir()));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("client.py printed no JSON ({e}): {}", String::from_utf8_lossy(&o.stdout))
    });
    assert_eq!(got["job"]["state"], "done", "{got}");
    let id = got["job"]["id"].as_str().unwrap();
    assert_eq!(got["plan"]["id"], id);
    let summary = &got["plan"]["summary"];
    assert_eq!(summary["solver"]["objective_m"].as_u64(), Some(expected), "{summary}");
    assert_eq!(summary["solver"]["optimal"], true);
    assert_eq!(summary["walk"]["total_m"].as_u64(), Some(expected));
    assert_eq!(summary["pupils"], 2000);
    // ?wait=true, sent by the client as the query parameter the document declares.
    assert_eq!(got["waited_status"], 200, "{got}");
    assert_eq!(got["waited_plan"]["summary"]["solver"]["objective_m"].as_u64(), Some(expected));
}
