//! The HTTP service over real HTTP on 127.0.0.1 with a real SQLite file: the real
//! `catchment serve` binary, started on a free port and stopped by PID.

mod common;

use common::http::{self, get, post_json, Response};
use common::server::{bin, demo_dir, wait_job, Server, READ, WRITE};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The JSON request for an instance directory (CSV texts).
fn request_for(dir: &Path, policy: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schools": read(&dir.join("schools.csv")),
        "pupils": read(&dir.join("pupils.csv")),
        "matrix": read(&dir.join("matrix.csv")),
        "policy": policy,
    }))
    .unwrap()
}

/// `catchment solve` on the same files: the reference outputs.
struct CliPlan {
    dir: PathBuf,
}

impl CliPlan {
    fn solve(input: &Path, out: &Path, extra: &[&str]) -> CliPlan {
        let o = Command::new(bin())
            .arg("solve")
            .arg("--schools")
            .arg(input.join("schools.csv"))
            .arg("--pupils")
            .arg(input.join("pupils.csv"))
            .arg("--matrix")
            .arg(input.join("matrix.csv"))
            .arg("--out")
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        CliPlan { dir: out.to_path_buf() }
    }
    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }
}

/// The stderr of `catchment solve` on files (expected to fail).
fn cli_error(schools: &Path, pupils: &Path, matrix: &Path) -> String {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(bin())
        .arg("solve")
        .arg("--schools")
        .arg(schools)
        .arg("--pupils")
        .arg(pupils)
        .arg("--matrix")
        .arg(matrix)
        .arg("--out")
        .arg(out.path().join("plan"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn wait_done(addr: SocketAddr, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let r = get(addr, &format!("/v1/jobs/{id}"), Some(READ));
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        match j["state"].as_str().unwrap() {
            "done" | "failed" => return j,
            "queued" | "running" => {}
            other => panic!("unknown state {other}"),
        }
        assert!(Instant::now() < deadline, "job {id} did not finish: {j}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The plan's artefacts equal the CLI's: assignments, schools and certificate byte for byte;
/// the summary apart from wall-clock timing and the distance-source label.
fn assert_same_as_cli(addr: SocketAddr, id: &str, cli: &CliPlan) {
    for (route, file) in [
        ("assignments.csv", "assignments.csv"),
        ("schools.csv", "schools.csv"),
        ("certificate.json", "certificate.json"),
    ] {
        let r = get(addr, &format!("/v1/plans/{id}/{route}"), Some(READ));
        assert_eq!(r.status, 200, "{route}: {}", r.text());
        assert!(r.body == cli.file(file), "{route} of plan {id} differs from the CLI's {file}");
    }
    let r = get(addr, &format!("/v1/plans/{id}"), Some(READ));
    assert_eq!(r.status, 200);
    let mut served = r.json()["summary"].clone();
    let mut expected: Value = serde_json::from_slice(&cli.file("summary.json")).unwrap();
    for v in [&mut served, &mut expected] {
        v.as_object_mut().unwrap().remove("timing");
        v.as_object_mut().unwrap().remove("distance_source");
    }
    assert_eq!(served, expected);
}

#[test]
fn happy_path_json_and_form_and_objects() {
    let tmp = tempfile::tempdir().unwrap();
    let cli = CliPlan::solve(&demo_dir(), &tmp.path().join("cli"), &[]);
    let s = Server::start(&tmp.path().join("c.db"), &[]);

    // JSON body, no wait: 202 + Location, then poll.
    let r = post_json(s.addr, "/v1/plans", Some(WRITE), &request_for(&demo_dir(), json!({})));
    assert_eq!(r.status, 202, "{}", r.text());
    let j = r.json();
    let id = j["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/v1/jobs/{id}").as_str()));
    assert!(["queued", "running", "done"].contains(&j["state"].as_str().unwrap()));
    assert_eq!(j["pupils"], 2000);
    let done = wait_done(s.addr, &id);
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["plan"], format!("/v1/plans/{id}"));
    assert_same_as_cli(s.addr, &id, &cli);

    // Multipart form (the README's curl example) with ?wait=true: the plan in the answer.
    let boundary = "catchment-test-boundary";
    let mut body = Vec::new();
    for (name, path) in
        [("schools", "schools.csv"), ("pupils", "pupils.csv"), ("matrix", "matrix.csv")]
    {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{path}\"\r\nContent-Type: text/csv\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&std::fs::read(demo_dir().join(path)).unwrap());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\n{{\"solver\":\"flow\"}}\r\n--{boundary}--\r\n").as_bytes());
    let auth = format!("Bearer {WRITE}");
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = http::request(
        s.addr,
        "POST",
        "/v1/plans?wait=true",
        &[("Authorization", &auth), ("Content-Type", &ct)],
        &body,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let plan = r.json();
    let id2 = plan["id"].as_str().unwrap();
    assert_ne!(id2, id);
    assert_eq!(plan["summary"]["pupils"], 2000);
    assert_eq!(plan["links"]["assignments_csv"], format!("/v1/plans/{id2}/assignments.csv"));
    assert_same_as_cli(s.addr, id2, &cli);

    // Schools and pupils as arrays of objects.
    let req = json!({
        "schools": [
            {"id": "A", "name": "North", "lat": 52.1, "lon": 11.6, "capacity": 1},
            {"id": "B", "name": "South", "lat": 52.0, "lon": 11.6, "max_classes": 1, "class_size": 2}
        ],
        "pupils": [{"id": "p1", "lat": 52.1, "lon": 11.6}, {"id": "p2", "lat": 52.1, "lon": 11.61}, {"id": "p3", "lat": 52.0, "lon": 11.6}],
        "matrix": "pupil_id,school_id,meters\np1,A,100\np1,B,900\np2,A,150\np2,B,1000\np3,A,800\np3,B,50\n",
    });
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), req.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let plan = r.json();
    // A has one seat: p1 (saves 800 m over B) beats p2 (saves 850 m)? p2 saves more, so p2 goes to A.
    assert_eq!(plan["summary"]["solver"]["objective_m"], 150 + 900 + 50);
    let a = get(
        s.addr,
        &format!("/v1/plans/{}/assignments.csv", plan["id"].as_str().unwrap()),
        Some(READ),
    )
    .text();
    assert!(
        a.contains("\np1,B,900,") && a.contains("\np2,A,150,") && a.contains("\np3,B,50,"),
        "{a}"
    );

    // Service routes.
    let h = get(s.addr, "/healthz", None);
    assert_eq!((h.status, h.text().trim()), (200, "ok"));
    let m = get(s.addr, "/metrics", None).text();
    assert!(m.contains("catchment_jobs_submitted_total 3"), "{m}");
    assert!(m.contains("catchment_jobs{state=\"done\"} 3"), "{m}");
    assert!(m.contains("catchment_http_responses_total{code=\"202\"} 1"), "{m}");
    let nf = get(s.addr, "/v1/nothing", Some(READ));
    assert_eq!(nf.status, 404);
    assert_eq!(get(s.addr, "/v1/jobs/0123456789abcdef0123456789abcdef", Some(READ)).status, 404);
    assert_eq!(get(s.addr, "/v1/plans/not-an-id/schools.csv", Some(READ)).status, 404);
}

#[test]
fn openapi_lists_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("c.db"), &[]);
    let r = get(s.addr, "/openapi.json", None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/v1/plans", "post"),
        ("/v1/jobs/{id}", "get"),
        ("/v1/plans/{id}", "get"),
        ("/v1/plans/{id}/assignments.csv", "get"),
        ("/v1/plans/{id}/schools.csv", "get"),
        ("/v1/plans/{id}/certificate.json", "get"),
        ("/v1/plans/{id}/files/{name}", "get"),
        ("/v1/plans/{id}/explain", "get"),
        ("/v1/scenarios", "post"),
        ("/v1/scenarios/{id}", "get"),
        ("/v1/scenarios/{id}/files/{path}", "get"),
        ("/v1/plans/{id}/simulations", "post"),
        ("/v1/simulations/{id}", "get"),
        ("/v1/simulations/{id}/simulation.csv", "get"),
        ("/v1/sites", "post"),
        ("/v1/sites/{id}", "get"),
        ("/v1/sites/{id}/files/{path}", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/v1/plans/{id}/evaluate", "post"),
        ("/v1/plans/{id}/reoptimise", "post"),
        ("/v1/plans/{id}/resolve", "post"),
        ("/v1/plans/{id}/versions", "post"),
        ("/v1/plans/{id}/versions", "get"),
        ("/v1/versions/{id}", "get"),
        ("/v1/versions/{id}/pins.csv", "get"),
        ("/v1/diff", "get"),
        ("/", "get"),
        ("/page.js", "get"),
        ("/page.css", "get"),
    ];
    for (p, m) in expected {
        assert!(
            paths.get(p).and_then(|x| x.get(m)).is_some(),
            "{m} {p} missing from the OpenAPI document"
        );
    }
    let mut distinct: Vec<&str> = expected.iter().map(|(p, _)| *p).collect();
    distinct.dedup();
    assert_eq!(
        paths.len(),
        distinct.len(),
        "unexpected paths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for schema in ["PlanRequest", "JobStatus", "ApiError", "PlanResponse"] {
        assert!(doc["components"]["schemas"].get(schema).is_some(), "schema {schema} missing");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // Every route in the document answers (with a token where needed), none is 404 as a route.
    for (p, m) in expected {
        if m == "get" && !p.contains("{id}") && p != "/v1/diff" {
            assert_eq!(get(s.addr, p, Some(READ)).status, 200, "{p}");
        }
    }
    // The comparison needs its two ids.
    assert_eq!(get(s.addr, "/v1/diff", Some(READ)).status, 400);
}

#[test]
fn auth_scopes_and_public_artefacts() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("c.db"), &[]);
    let small = json!({
        "schools": "id,name,lat,lon,capacity\nA,North,52.1,11.6,5\n",
        "pupils": "id,lat,lon\np1,52.1,11.6\n",
        "matrix": "pupil_id,school_id,meters\np1,A,100\n",
    })
    .to_string();
    // No token, a wrong token, a malformed header: 401 with WWW-Authenticate.
    for token in [None, Some("wrong-token-wrong-token-123")] {
        let r = post_json(s.addr, "/v1/plans", token, small.as_bytes());
        assert_eq!(r.status, 401, "{}", r.text());
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
        assert_eq!(r.json()["error"], "unauthorized");
    }
    let r =
        http::request(s.addr, "POST", "/v1/plans", &[("Authorization", WRITE)], small.as_bytes())
            .unwrap();
    assert_eq!(r.status, 401);
    // A read-only token writing: 403.
    let r = post_json(s.addr, "/v1/plans", Some(READ), small.as_bytes());
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "forbidden");
    // The write token may write and read.
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), small.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(get(s.addr, &format!("/v1/jobs/{id}"), Some(WRITE)).status, 200);
    // Without public artefacts everything about a plan needs a token.
    for route in ["", "/assignments.csv", "/schools.csv", "/certificate.json"] {
        let r = get(s.addr, &format!("/v1/plans/{id}{route}"), None);
        assert_eq!(r.status, 401, "{route}");
        assert!(!r.text().contains("p1"));
        assert_eq!(
            get(s.addr, &format!("/v1/plans/{id}{route}"), Some(READ)).status,
            200,
            "{route}"
        );
    }
    assert_eq!(get(s.addr, &format!("/v1/jobs/{id}"), None).status, 401);
    drop(s);

    // The same store with publishable artefacts public: summary, schools.csv and certificate
    // without a token; pupils' assignments and jobs still need one.
    let s = Server::start(&tmp.path().join("c.db"), &["--public-artefacts"]);
    for route in ["", "/schools.csv", "/certificate.json"] {
        assert_eq!(get(s.addr, &format!("/v1/plans/{id}{route}"), None).status, 200, "{route}");
    }
    assert_eq!(get(s.addr, &format!("/v1/plans/{id}/assignments.csv"), None).status, 401);
    assert_eq!(get(s.addr, &format!("/v1/jobs/{id}"), None).status, 401);
    assert_eq!(post_json(s.addr, "/v1/plans", None, small.as_bytes()).status, 401);

    // The service refuses to start without tokens, and a bad token spec is named, not echoed.
    let o = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(tmp.path().join("x.db"))
        .env_remove("CATCHMENT_TOKENS")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no tokens configured"));
    let o = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(tmp.path().join("x.db"))
        .env("CATCHMENT_TOKENS", "admin:very-secret-value-123456")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success()
            && err.contains("unknown token scope 'admin'")
            && !err.contains("very-secret"),
        "{err}"
    );
}

#[test]
fn body_over_the_limit_and_request_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(
        &tmp.path().join("c.db"),
        &["--max-body-bytes", "100000", "--request-timeout", "2"],
    );
    let body = request_for(&demo_dir(), json!({}));
    assert!(body.len() > 100_000);
    let r = post_json(s.addr, "/v1/plans", Some(WRITE), &body);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.json()["error"], "body_too_large");
    // A client that stops sending its body is cut off by the request timeout (503).
    {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(s.addr).unwrap();
        let head = format!(
            "POST /v1/plans HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {WRITE}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{{\"schools\": "
        );
        c.write_all(head.as_bytes()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut raw = Vec::new();
        let _ = c.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 503"), "{text}");
        assert!(text.contains("\"error\":\"timeout\""), "{text}");
    }
    // Nothing was queued.
    let m = get(s.addr, "/metrics", None).text();
    assert!(m.contains("catchment_jobs_submitted_total 0"), "{m}");
    assert!(
        m.contains("catchment_http_responses_total{code=\"413\"} 1")
            && m.contains("catchment_http_responses_total{code=\"503\"} 1"),
        "{m}"
    );
}

/// Writes `files` into a fresh directory and returns it.
fn files(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).unwrap();
    for (f, text) in files {
        std::fs::write(d.join(f), text).unwrap();
    }
    d
}

#[test]
fn validation_errors_carry_the_cli_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("c.db"), &[]);
    let schools = "id,name,lat,lon,capacity\nA,North,52.1,11.6,2\nB,South,52.0,11.6,1\n";
    let pupils = "id,lat,lon\np1,52.1,11.6\np2,52.1,11.61\np3,52.0,11.6\n";
    let matrix =
        "pupil_id,school_id,meters\np1,A,100\np1,B,900\np2,A,150\np2,B,1000\np3,A,800\np3,B,50\n";
    // (case, schools, pupils, matrix, expected kind, a fragment of the message)
    let cases: Vec<(&str, String, String, String, &str, &str)> = vec![
        (
            "capacity missing",
            schools.replace(",capacity", "").replace(",2\n", "\n").replace(",1\n", "\n"),
            pupils.into(),
            matrix.into(),
            "invalid_input",
            "field 'capacity'",
        ),
        (
            "bad latitude",
            schools.replace("52.1,11.6,2", "north,11.6,2"),
            pupils.into(),
            matrix.into(),
            "invalid_input",
            "field 'lat'",
        ),
        (
            "duplicate school",
            format!("{schools}A,Again,52.2,11.6,3\n"),
            pupils.into(),
            matrix.into(),
            "invalid_input",
            "duplicate school id 'A'",
        ),
        (
            "duplicate pupil",
            schools.into(),
            format!("{pupils}p1,52.1,11.6\n"),
            matrix.into(),
            "invalid_input",
            "duplicate pupil id (first on line 2)",
        ),
        (
            "unknown fixed school",
            schools.into(),
            "id,lat,lon,fixed_school\np1,52.1,11.6,Z\np2,52.1,11.61,\np3,52.0,11.6,\n".into(),
            matrix.into(),
            "invalid_input",
            "school 'Z' is not in the schools file",
        ),
        (
            "pupil without location",
            schools.into(),
            "id,lat,lon\np1,52.1,11.6\np2,,\np3,52.0,11.6\n".into(),
            matrix.into(),
            "invalid_input",
            "no location",
        ),
        (
            "matrix pair missing",
            schools.into(),
            pupils.into(),
            matrix.replace("p3,B,50\n", ""),
            "invalid_input",
            "matrix.csv",
        ),
        (
            "matrix bad meters",
            schools.into(),
            pupils.into(),
            matrix.replace("p3,B,50", "p3,B,far"),
            "invalid_input",
            "field 'meters'",
        ),
        (
            "matrix unknown pupil",
            schools.into(),
            pupils.into(),
            format!("{matrix}p9,A,10\n"),
            "invalid_input",
            "unknown pupil id (not in the pupils file)",
        ),
        (
            "matrix column missing",
            schools.into(),
            pupils.into(),
            matrix.replace("meters", "metres"),
            "invalid_input",
            "field 'meters'",
        ),
        (
            "empty pupils",
            schools.into(),
            "id,lat,lon\n".into(),
            matrix.into(),
            "invalid_input",
            "no rows",
        ),
        (
            "too few seats",
            schools.replace(",2\n", ",1\n"),
            pupils.into(),
            matrix.into(),
            "infeasible",
            "short by 1",
        ),
        (
            "fixed over capacity",
            schools.into(),
            "id,lat,lon,fixed_school\np1,52.1,11.6,B\np2,52.1,11.61,B\np3,52.0,11.6,\n".into(),
            matrix.into(),
            "infeasible",
            "school 'B' has 2 pupils",
        ),
        (
            "no route",
            schools.into(),
            pupils.into(),
            matrix.replace("p3,A,800", "p3,A,unreachable").replace("p3,B,50", "p3,B,unreachable"),
            "infeasible",
            "no allowed school",
        ),
    ];
    for (case, sc, pu, ma, kind, fragment) in &cases {
        let body = json!({"schools": sc, "pupils": pu, "matrix": ma}).to_string();
        let r = post_json(s.addr, "/v1/plans", Some(WRITE), body.as_bytes());
        assert_eq!(r.status, 422, "{case}: {}", r.text());
        let e = r.json();
        assert_eq!(e["error"], *kind, "{case}: {e}");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains(fragment), "{case}: {message}");
        assert!(!e["problems"].as_array().unwrap().is_empty(), "{case}");
        // The same text as `catchment solve` on the same files.
        let d = files(
            tmp.path(),
            &case.replace(' ', "_"),
            &[("schools.csv", sc), ("pupils.csv", pu), ("matrix.csv", ma)],
        );
        let cli = cli_error(&d.join("schools.csv"), &d.join("pupils.csv"), &d.join("matrix.csv"));
        assert!(cli.contains(message), "{case}: the CLI says\n{cli}\nthe service says\n{message}");
        // Pupil coordinates never appear in an answer.
        assert!(!r.text().contains("11.61"), "{case}: {}", r.text());
    }

    // Request-level errors.
    let bad: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        ("not JSON", b"{schools:".to_vec(), "application/json", 400, "bad_request"),
        ("schools missing", json!({"pupils": pupils, "matrix": matrix}).to_string().into_bytes(), "application/json", 400, "bad_request"),
        ("unknown field", json!({"schools": schools, "pupils": pupils, "matrix": matrix, "extra": 1}).to_string().into_bytes(), "application/json", 400, "bad_request"),
        ("wrong media type", b"schools".to_vec(), "text/plain", 415, "unsupported_media_type"),
        (
            "a media type that only begins like JSON",
            b"{}".to_vec(),
            "application/jsonbogus",
            415,
            "unsupported_media_type",
        ),
        ("matrix missing", json!({"schools": schools, "pupils": pupils}).to_string().into_bytes(), "application/json", 422, "invalid_input"),
        ("unknown solver", json!({"schools": schools, "pupils": pupils, "matrix": matrix, "policy": {"solver": "magic"}}).to_string().into_bytes(), "application/json", 422, "invalid_input"),
        ("unknown policy field", json!({"schools": schools, "pupils": pupils, "matrix": matrix, "policy": {"walk": 3}}).to_string().into_bytes(), "application/json", 422, "invalid_input"),
        ("max_walk not a number", json!({"schools": schools, "pupils": pupils, "matrix": matrix, "policy": {"max_walk": "far"}}).to_string().into_bytes(), "application/json", 422, "invalid_input"),
        ("objects without id", json!({"schools": [{"name": "x", "lat": 1, "lon": 2, "capacity": 3}], "pupils": pupils, "matrix": matrix}).to_string().into_bytes(), "application/json", 422, "invalid_input"),
    ];
    for (case, body, ct, status, kind) in bad {
        let auth = format!("Bearer {WRITE}");
        let r = http::request(
            s.addr,
            "POST",
            "/v1/plans",
            &[("Authorization", auth.as_str()), ("Content-Type", ct)],
            &body,
        )
        .unwrap();
        assert_eq!(r.status, status, "{case}: {}", r.text());
        assert_eq!(r.json()["error"], kind, "{case}");
    }
    // A form with a pupils file that is not UTF-8 (Latin-1): the CLI's message.
    let latin1: Vec<u8> =
        b"id,lat,lon,note\np1,52.1,11.6,Stra\xdfe\np2,52.1,11.61,\np3,52.0,11.6,\n".to_vec();
    let boundary = "b0undary";
    let mut body = Vec::new();
    for (name, content) in
        [("schools", schools.as_bytes()), ("pupils", &latin1[..]), ("matrix", matrix.as_bytes())]
    {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.csv\"\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let auth = format!("Bearer {WRITE}");
    let ct = format!("multipart/form-data; boundary={boundary}");
    let r = http::request(
        s.addr,
        "POST",
        "/v1/plans",
        &[("Authorization", auth.as_str()), ("Content-Type", ct.as_str())],
        &body,
    )
    .unwrap();
    assert_eq!(r.status, 422, "{}", r.text());
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("pupils.csv:2") && message.contains("not valid UTF-8"), "{message}");
    let d = tmp.path().join("latin1");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("schools.csv"), schools).unwrap();
    std::fs::write(d.join("pupils.csv"), &latin1).unwrap();
    std::fs::write(d.join("matrix.csv"), matrix).unwrap();
    let cli = cli_error(&d.join("schools.csv"), &d.join("pupils.csv"), &d.join("matrix.csv"));
    assert!(cli.contains(&message), "{cli}");

    // A max walk making the instance infeasible: the CLI's text for --max-walk.
    let body = json!({"schools": schools, "pupils": pupils, "matrix": matrix, "policy": {"max_walk": 120}}).to_string();
    let r = post_json(s.addr, "/v1/plans", Some(WRITE), body.as_bytes());
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"], "infeasible");
    // Nothing invalid was queued.
    assert!(get(s.addr, "/metrics", None).text().contains("catchment_jobs_submitted_total 0"));
}

fn submit(addr: SocketAddr, body: &[u8]) -> String {
    let r = post_json(addr, "/v1/plans", Some(WRITE), body);
    assert_eq!(r.status, 202, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_string()
}

#[test]
fn fifty_submissions_at_once_equal_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let town = tmp.path().join("town");
    let o = Command::new(env!("CARGO_BIN_EXE_catchment-dataset"))
        .args(["synthetic", "--pupils", "400", "--schools", "9", "--seed", "11", "--out"])
        .arg(&town)
        .output()
        .unwrap();
    assert!(o.status.success());
    let cli_demo = CliPlan::solve(&demo_dir(), &tmp.path().join("cli-demo"), &[]);
    let cli_town = CliPlan::solve(&town, &tmp.path().join("cli-town"), &[]);
    let cli_town_walk =
        CliPlan::solve(&town, &tmp.path().join("cli-town-walk"), &["--max-walk", "3000"]);
    let s = Server::start(&tmp.path().join("c.db"), &["--max-solves", "2"]);
    let bodies = [
        request_for(&demo_dir(), json!({})),
        request_for(&town, json!({"solver": "flow"})),
        request_for(&town, json!({"max_walk": 3000})),
    ];
    let addr = s.addr;
    let ids: Vec<(usize, String)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let body = &bodies[i % 3];
                sc.spawn(move || (i % 3, submit(addr, body)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let distinct: std::collections::HashSet<&String> = ids.iter().map(|(_, id)| id).collect();
    assert_eq!(distinct.len(), 50);
    // At most two solves at a time, the rest waiting in the queue (whether a queue is seen
    // forming depends on how fast this machine solves against how fast it validates uploads:
    // the cap is what is asserted).
    loop {
        let m = get(addr, "/metrics", None).text();
        let value = |name: &str| -> u64 {
            m.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap()))
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert!(value("catchment_solves_running ") <= 2, "{m}");
        assert!(value("catchment_jobs{state=\"running\"} ") <= 2, "{m}");
        if value("catchment_jobs{state=\"done\"} ") + value("catchment_jobs{state=\"failed\"} ")
            == 50
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for (kind, id) in &ids {
        let j = wait_done(addr, id);
        assert_eq!(j["state"], "done", "{j}");
        let cli = [&cli_demo, &cli_town, &cli_town_walk][*kind];
        assert_same_as_cli(addr, id, cli);
    }
    let m = get(addr, "/metrics", None).text();
    assert!(m.contains("catchment_jobs_done_total 50"), "{m}");
}

fn wait_running(addr: SocketAddr, ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        for id in ids {
            if get(addr, &format!("/v1/jobs/{id}"), Some(READ)).json()["state"] == "running" {
                return;
            }
        }
        assert!(Instant::now() < deadline, "no job started");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The jobs the store holds as running (read from the store of a stopped server).
fn running_in_store(db: &Path) -> Vec<String> {
    common::server::store_rows(db, "SELECT id FROM jobs WHERE state = 'running'")
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect()
}

/// Submit three demo jobs to a server with one solve slot and SIGKILL it while one runs.
/// Returns the submitted jobs and those the store holds as running at the crash.
fn crash_mid_job(s: &mut Server, demo: &[u8]) -> (Vec<String>, Vec<String>) {
    let ids: Vec<String> = (0..3).map(|_| submit(s.addr, demo)).collect();
    wait_running(s.addr, &ids);
    s.kill9();
    (ids.clone(), running_in_store(&s.db))
}

#[test]
fn killed_mid_job_and_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("c.db");
    let cli = CliPlan::solve(&demo_dir(), &tmp.path().join("cli"), &[]);
    let demo = request_for(&demo_dir(), json!({}));
    let one = &["--max-solves", "1"];

    let mut s = Server::start(&db, one);
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), &demo);
    assert_eq!(r.status, 200, "{}", r.text());
    let earlier = r.json()["id"].as_str().unwrap().to_string();
    let routes = ["", "/assignments.csv", "/schools.csv", "/certificate.json"];
    let earlier_files: Vec<Response> = routes
        .iter()
        .map(|x| get(s.addr, &format!("/v1/plans/{earlier}{x}"), Some(READ)))
        .collect();

    // A crash (SIGKILL) while a job runs and others wait: all resumed at restart. (Rarely the
    // crash falls between two jobs; then crash again.)
    let mut crashed = (vec![], vec![]);
    for _ in 0..5 {
        crashed = crash_mid_job(&mut s, &demo);
        s = Server::start(&db, one);
        if !crashed.1.is_empty() {
            break;
        }
    }
    let (ids, running) = crashed;
    assert_eq!(running.len(), 1, "one job was running at the crash");
    for id in &ids {
        let j = wait_done(s.addr, id);
        assert_eq!(j["state"], "done", "{j}");
        assert_same_as_cli(s.addr, id, &cli);
    }
    let j = get(s.addr, &format!("/v1/jobs/{}", running[0]), Some(READ)).json();
    assert_eq!(j["attempts"], 2, "the interrupted job ran again: {j}");
    // The earlier plan is intact, byte for byte.
    for (x, before) in routes.iter().zip(&earlier_files) {
        let now = get(s.addr, &format!("/v1/plans/{earlier}{x}"), Some(READ));
        assert_eq!((now.status, &now.body), (200, &before.body), "{x}");
    }

    // Crash again; with at most one attempt the interrupted job fails with its reason, the
    // waiting ones still run.
    let mut crashed = (vec![], vec![]);
    for _ in 0..5 {
        crashed = crash_mid_job(&mut s, &demo);
        s = Server::start(&db, &["--max-solves", "1", "--max-attempts", "1"]);
        if !crashed.1.is_empty() {
            break;
        }
    }
    let (ids, running) = crashed;
    assert_eq!(running.len(), 1);
    for id in &ids {
        let j = wait_done(s.addr, id);
        if running.contains(id) {
            assert_eq!(j["state"], "failed", "{j}");
            assert_eq!(j["error"]["error"], "interrupted", "{j}");
            assert!(
                j["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("stopped while this job was running"),
                "{j}"
            );
            // A failed job's plan is not "not found": 409, saying the job failed and where why.
            for route in [format!("/v1/plans/{id}"), format!("/v1/plans/{id}/assignments.csv")] {
                let r = get(s.addr, &route, Some(READ));
                assert_eq!(r.status, 409, "{route}: {}", r.text());
                assert_eq!(r.json()["error"], "job_failed", "{route}");
                assert!(r.json()["message"].as_str().unwrap().contains(&format!("/v1/jobs/{id}")));
            }
        } else {
            assert_eq!(j["state"], "done", "{j}");
            assert_same_as_cli(s.addr, id, &cli);
        }
    }

    // SIGTERM: a running solve finishes (or is put back), the process exits cleanly.
    let id = submit(s.addr, &demo);
    let st = s.terminate();
    assert!(st.success(), "{st:?}");
    let s = Server::start(&db, one);
    let j = wait_done(s.addr, &id);
    assert_eq!(j["state"], "done", "{j}");
    assert_same_as_cli(s.addr, &id, &cli);
    assert_eq!(
        get(s.addr, &format!("/v1/plans/{earlier}/assignments.csv"), Some(READ)).body,
        earlier_files[1].body
    );
    // No request (pupil locations) is kept once its job has finished.
    let kept =
        common::server::store_rows(&db, "SELECT COUNT(*) FROM jobs WHERE request IS NOT NULL");
    assert_eq!(kept[0].int(0).unwrap(), 0);
}

/// A plan whose walking distances come from a real OSRM server named in the request: the same
/// plan as `catchment solve --osrm`; servers the service does not allow are refused, and a
/// server that is down is reported as a routing failure (502), never as a partial plan.
#[test]
fn routing_spec_uses_an_allowed_osrm_server() {
    let osrm = common::Osrm::start(100);
    let tmp = tempfile::tempdir().unwrap();
    let schools =
        "id,name,lat,lon,capacity\nville,Ville,43.7312,7.4197,2\ncarlo,Carlo,43.7394,7.4274,2\n";
    let pupils =
        "id,lat,lon\n1,43.7356,7.4196\n2,43.7330,7.4190\n3,43.7388,7.4268\n4,43.7349,7.4218\n";
    std::fs::write(tmp.path().join("schools.csv"), schools).unwrap();
    std::fs::write(tmp.path().join("pupils.csv"), pupils).unwrap();
    let cli_out = tmp.path().join("cli");
    let o = Command::new(bin())
        .args(["solve", "--osrm", &osrm.url, "--no-cache", "--schools"])
        .arg(tmp.path().join("schools.csv"))
        .arg("--pupils")
        .arg(tmp.path().join("pupils.csv"))
        .arg("--out")
        .arg(&cli_out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let server = Server::start(&tmp.path().join("jobs.db"), &["--osrm-allow", &osrm.url]);
    let body =
        json!({"schools": schools, "pupils": pupils, "routing": {"osrm": osrm.url}}).to_string();
    let r = post_json(server.addr, "/v1/plans?wait=true", Some(WRITE), body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let served = get(server.addr, &format!("/v1/plans/{id}/assignments.csv"), Some(READ));
    assert_eq!(served.body, std::fs::read(cli_out.join("assignments.csv")).unwrap());
    // The walks it routed are kept with the plan (a read token; not among the published
    // links), and `catchment check --plan` verifies the served plan from them without routing.
    let plan_dir = tmp.path().join("served");
    std::fs::create_dir_all(&plan_dir).unwrap();
    for f in ["matrix.csv", "matrix.csv.meta.json"] {
        let path = format!("/v1/plans/{id}/files/{f}");
        assert_eq!(get(server.addr, &path, None).status, 401, "{f}");
        let r = get(server.addr, &path, Some(READ));
        assert_eq!(r.status, 200, "{f}: {}", r.text());
        std::fs::write(plan_dir.join(f), &r.body).unwrap();
    }
    assert_eq!(
        std::fs::read(plan_dir.join("matrix.csv")).unwrap(),
        std::fs::read(cli_out.join("matrix.csv")).unwrap()
    );
    let links = get(server.addr, &format!("/v1/plans/{id}"), Some(READ)).text();
    assert!(!links.contains("matrix.csv"), "{links}");
    for (f, route) in [
        ("assignments.csv", "assignments.csv"),
        ("schools.csv", "schools.csv"),
        ("certificate.json", "certificate.json"),
    ] {
        let r = get(server.addr, &format!("/v1/plans/{id}/{route}"), Some(READ));
        std::fs::write(plan_dir.join(f), &r.body).unwrap();
    }
    let summary =
        get(server.addr, &format!("/v1/plans/{id}"), Some(READ)).json()["summary"].clone();
    std::fs::write(plan_dir.join("summary.json"), summary.to_string()).unwrap();
    let o = Command::new(bin())
        .args(["check", "--pupils"])
        .arg(tmp.path().join("pupils.csv"))
        .arg("--plan")
        .arg(&plan_dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let bare = post_json(
        server.addr,
        "/v1/plans?wait=true",
        Some(WRITE),
        json!({"schools": schools, "pupils": pupils, "matrix": read(&cli_out.join("matrix.csv"))})
            .to_string()
            .as_bytes(),
    );
    let bare = bare.json()["id"].as_str().unwrap().to_string();
    let r = get(server.addr, &format!("/v1/plans/{bare}/files/matrix.csv"), Some(READ));
    assert_eq!(r.status, 404, "a plan given its matrix keeps none: {}", r.text());

    // Each pupil's nearest school routed first, then only the pairs the prices ask for, on a
    // list of servers (here the allowed one twice): the same total walk, what was routed in the
    // summary; a list naming a server the service does not allow is refused.
    let nearest = json!({"schools": schools, "pupils": pupils, "policy": {"nearest": 1},
        "routing": {"osrm": format!("{},{}", osrm.url, osrm.url)}})
    .to_string();
    let r = post_json(server.addr, "/v1/plans?wait=true", Some(WRITE), nearest.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let sparse = r.json()["id"].as_str().unwrap().to_string();
    let s = get(server.addr, &format!("/v1/plans/{sparse}"), Some(READ)).json()["summary"].clone();
    assert_eq!(s["solver"]["objective_m"], summary["solver"]["objective_m"], "{s}");
    assert_eq!(s["solver"]["nearest"], 1);
    assert_eq!(s["solver"]["routed"]["servers"], 2, "{s}");
    assert_eq!(s["solver"]["routed"]["of"], 8, "{s}");
    let listed = json!({"schools": schools, "pupils": pupils, "policy": {"nearest": 1},
        "routing": {"osrm": format!("{},http://127.0.0.1:9", osrm.url)}})
    .to_string();
    let r = post_json(server.addr, "/v1/plans", Some(WRITE), listed.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("not allowed"), "{}", r.text());

    // A server the service does not allow.
    let other =
        json!({"schools": schools, "pupils": pupils, "routing": {"osrm": "http://127.0.0.1:9"}})
            .to_string();
    let r = post_json(server.addr, "/v1/plans", Some(WRITE), other.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("not allowed"), "{}", r.text());

    // Both a matrix and a routing spec.
    let both = json!({"schools": schools, "pupils": pupils, "matrix": "pupil_id,school_id,meters\n", "routing": {"osrm": osrm.url}}).to_string();
    let r = post_json(server.addr, "/v1/plans", Some(WRITE), both.as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());

    // The allowed server stops: a routing failure, with no coordinates in the answer.
    drop(osrm);
    let r = post_json(server.addr, "/v1/plans", Some(WRITE), body.as_bytes());
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.json()["error"], "routing");
    assert!(!r.text().contains("43.73") && !r.text().contains("7.41"), "{}", r.text());
}

/// Issue 14, item 6: street addresses over HTTP. A service without an extract answers 422
/// (geocoding) naming no CLI flag; started with `--osm`, it geocodes pupils and blocks given
/// by address, routes the blocks itself and publishes the same districts as `catchment solve
/// --osrm --osm --blocks`; an address it cannot place is 422 with the count, not the pupil; a
/// routing fault is 502.
#[test]
fn the_service_geocodes_street_addresses_with_its_extract() {
    let osrm = common::Osrm::start(100);
    let tmp = tempfile::tempdir().unwrap();
    let pbf = common::monaco_pbf();
    let schools =
        "id,name,lat,lon,capacity\nville,Ville,43.7312,7.4197,3\ncarlo,Carlo,43.7394,7.4274,3\n";
    let pupils = "id,street,house_number,lat,lon\n1,Avenue de Grande-Bretagne,22,,\n2,QUAI ANTOINE 1ER,4,,\n3,Rue Terrazzani,9,,\n4,,,43.7356,7.4196\n";
    let blocks = "block_id,lat,lon,residents,street,house_number\nB1,,,40,Avenue de Grande-Bretagne,22\nB2,43.7356,7.4196,50,,\nB3,43.7318,7.4203,10,,\n";
    let url = osrm.url.clone();
    let body = |pupils: &str, extra: serde_json::Value| {
        let mut b = json!({
            "schools": schools,
            "pupils": pupils,
            "blocks": blocks,
            "routing": {"osrm": url},
        });
        for (k, v) in extra.as_object().unwrap() {
            b["routing"][k] = v.clone();
        }
        b.to_string()
    };

    // Without an extract: the input's mistake (422), in words that name no CLI flag.
    let plain = Server::start(&tmp.path().join("plain.db"), &["--osrm-allow", &osrm.url]);
    let r = post_json(plain.addr, "/v1/plans", Some(WRITE), body(pupils, json!({})).as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"], "geocoding", "{}", r.text());
    assert!(!r.text().contains("--"), "no CLI flag: {}", r.text());
    drop(plain);

    let server = Server::start(
        &tmp.path().join("jobs.db"),
        &["--osrm-allow", &osrm.url, "--osm", pbf.to_str().unwrap()],
    );
    let r = post_json(
        server.addr,
        "/v1/plans?wait=true",
        Some(WRITE),
        body(pupils, json!({})).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    // The CLI on the same files gives the same districts.
    let d = tmp.path();
    std::fs::write(d.join("schools.csv"), schools).unwrap();
    std::fs::write(d.join("pupils.csv"), pupils).unwrap();
    std::fs::write(d.join("blocks.csv"), blocks).unwrap();
    let cli_out = d.join("cli");
    let o = Command::new(bin())
        .args(["solve", "--osrm", &osrm.url, "--no-cache", "--osm"])
        .arg(&pbf)
        .args([
            "--schools",
            "schools.csv",
            "--pupils",
            "pupils.csv",
            "--blocks",
            "blocks.csv",
            "--out",
        ])
        .arg(&cli_out)
        .current_dir(d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["districts.csv", "assignments.csv"] {
        let served = get(
            server.addr,
            &format!(
                "/v1/plans/{id}/{}",
                if f == "districts.csv" { "files/districts.csv" } else { f }
            ),
            Some(READ),
        );
        assert_eq!(served.status, 200, "{f}: {}", served.text());
        assert_eq!(served.text(), read(&cli_out.join(f)), "{f}");
    }

    // An address the extract does not hold: 422 with counts, no pupil id, a hint naming the
    // request field.
    let unknown = format!("{pupils}5,Rue Imaginaire,12,,\n");
    let r = post_json(server.addr, "/v1/plans", Some(WRITE), body(&unknown, json!({})).as_bytes());
    assert_eq!(r.status, 422, "{}", r.text());
    let e = r.json();
    assert_eq!(e["error"], "geocoding");
    assert!(e["message"].as_str().unwrap().contains("1 pupil(s) could not be placed"), "{e}");
    assert!(e["hint"].as_str().unwrap().contains("routing.skip_ungeocoded"), "{e}");
    assert!(!r.text().contains("--") && !r.text().contains("Imaginaire"), "{}", r.text());
    // Left out when the request says so.
    let r = post_json(
        server.addr,
        "/v1/plans?wait=true",
        Some(WRITE),
        body(&unknown, json!({"skip_ungeocoded": true})).as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    // The routing server stops: 502 routing.
    drop(osrm);
    let r = post_json(server.addr, "/v1/plans", Some(WRITE), body(pupils, json!({})).as_bytes());
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.json()["error"], "routing");
}

/// A plan submitted with the city's blocks publishes the same districts as `catchment solve
/// --blocks`, and explains them.
#[test]
fn published_districts_and_explanations_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let mdg = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    // A street through the first two blocks of the city, as GeoJSON.
    let blocks_csv = read(&mdg.join("blocks.csv"));
    let pts: Vec<(String, String, String)> = blocks_csv
        .lines()
        .skip(1)
        .take(2)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect();
    let streets = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"name":"Teststraße"}},"geometry":{{"type":"LineString","coordinates":[[{},{}],[{},{}]]}}}}]}}"#,
        pts[0].2, pts[0].1, pts[1].2, pts[1].1
    );
    let streets_path = tmp.path().join("streets.geojson");
    std::fs::write(&streets_path, &streets).unwrap();
    let cli = CliPlan::solve(
        &mdg,
        &tmp.path().join("cli"),
        &[
            "--blocks",
            mdg.join("blocks.csv").to_str().unwrap(),
            "--streets",
            streets_path.to_str().unwrap(),
        ],
    );
    let s = Server::start(&tmp.path().join("c.db"), &[]);
    let body = serde_json::to_vec(&json!({
        "schools": read(&mdg.join("schools.csv")),
        "pupils": read(&mdg.join("pupils.csv")),
        "matrix": read(&mdg.join("matrix.csv")),
        "blocks": blocks_csv,
        "streets": streets,
    }))
    .unwrap();
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let plan = r.json();
    let id = plan["id"].as_str().unwrap();
    let links: Vec<&str> = plan["links"]["published"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for f in ["districts.csv", "districts.geojson", "streets.csv", "streets.html"] {
        let route = format!("/v1/plans/{id}/files/{f}");
        assert!(links.contains(&route.as_str()), "{links:?}");
        let r = get(s.addr, &route, Some(READ));
        assert_eq!(r.status, 200, "{f}: {}", r.text());
        assert!(r.body == cli.file(f), "{f} differs from the CLI's");
        // Tagged with the hash it is stored under; a client holding it gets 304.
        let tag = r.header("etag").expect("an ETag").to_string();
        assert_eq!(tag, format!("\"sha256-{}\"", catchment::server::store::content_hash(&r.body)));
        let auth = format!("Bearer {READ}");
        let again = http::request(
            s.addr,
            "GET",
            &route,
            &[("Authorization", &auth), ("If-None-Match", &tag)],
            b"",
        )
        .unwrap();
        assert_eq!((again.status, again.body.len()), (304, 0), "{f}");
    }
    let r = get(s.addr, &format!("/v1/plans/{id}/files/assignments.csv"), Some(READ));
    assert_eq!(r.status, 404, "pupil assignments are not a published file");
    assert_eq!(
        get(s.addr, &format!("/v1/plans/{id}/files/districts.csv"), None).status,
        401,
        "needs a token unless public"
    );

    // Explanations equal the CLI's.
    let block = &pts[0].0;
    let r = get(s.addr, &format!("/v1/plans/{id}/explain?block={block}"), Some(READ));
    assert_eq!(r.status, 200, "{}", r.text());
    let o = Command::new(bin())
        .args(["explain", "--json", "--plan"])
        .arg(&cli.dir)
        .args(["--block", block])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(r.json(), serde_json::from_slice::<Value>(&o.stdout).unwrap());
    let r = get(s.addr, &format!("/v1/plans/{id}/explain?address=Teststra%C3%9Fe%202"), Some(READ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["explanations"][0]["german"].as_str().unwrap().contains("Schule")
            || r.json()["explanations"][0]["german"].as_str().unwrap().contains("näher")
    );
    let r = get(s.addr, &format!("/v1/plans/{id}/explain?block=nowhere"), Some(READ));
    assert_eq!(r.status, 404, "{}", r.text());
    let r = get(s.addr, &format!("/v1/plans/{id}/explain"), Some(READ));
    assert_eq!(r.status, 400, "{}", r.text());
}

/// A simulation of a stored plan is computed by the service and stored: the same files as
/// `catchment simulate` on the CLI's plan, read back by id; bad parameters and plans without
/// districts are refused with the reason.
#[test]
fn simulations_of_stored_plans_match_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let mdg = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    let cli = CliPlan::solve(
        &mdg,
        &tmp.path().join("cli"),
        &["--blocks", mdg.join("blocks.csv").to_str().unwrap()],
    );
    let sim_dir = tmp.path().join("cli-sim");
    let o = Command::new(bin())
        .args(["simulate", "--draws", "1500", "--seed", "5", "--move-prob", "0.2", "--plan"])
        .arg(&cli.dir)
        .arg("--out")
        .arg(&sim_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let s = Server::start(&tmp.path().join("sim.db"), &[]);
    let plan = |blocks: bool| {
        let mut req = json!({
            "schools": read(&mdg.join("schools.csv")),
            "pupils": read(&mdg.join("pupils.csv")),
            "matrix": read(&mdg.join("matrix.csv")),
        });
        if blocks {
            req["blocks"] = Value::String(read(&mdg.join("blocks.csv")));
        }
        let r = post_json(
            s.addr,
            "/v1/plans?wait=true",
            Some(WRITE),
            &serde_json::to_vec(&req).unwrap(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_string()
    };
    let id = plan(true);
    let body = br#"{"draws": 1500, "seed": 5, "move_prob": 0.2}"#;
    let route = format!("/v1/plans/{id}/simulations");
    let r = post_json(s.addr, &format!("{route}?wait=true"), Some(WRITE), body);
    assert_eq!(r.status, 201, "{}", r.text());
    let sid = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/v1/simulations/{sid}").as_str()));
    let cli_json: Value =
        serde_json::from_slice(&std::fs::read(sim_dir.join("simulation.json")).unwrap()).unwrap();
    assert_eq!(r.json()["simulation"], cli_json);
    // Stored: read back by id, the table byte for byte.
    let g = get(s.addr, &format!("/v1/simulations/{sid}"), Some(READ));
    assert_eq!(g.status, 200, "{}", g.text());
    assert_eq!(g.json()["simulation"], cli_json);
    assert_eq!(g.json()["plan"], format!("/v1/plans/{id}"));
    let c = get(s.addr, &format!("/v1/simulations/{sid}/simulation.csv"), Some(READ));
    assert_eq!(c.body, std::fs::read(sim_dir.join("simulation.csv")).unwrap());
    // Without `wait`: a job like a plan's, polled at its Location; the same simulation.
    let r = post_json(s.addr, &route, Some(WRITE), body);
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/v1/jobs/{job}").as_str()));
    assert_eq!(r.json()["kind"], "simulation");
    let st = wait_job(s.addr, &job, Duration::from_secs(120));
    assert_eq!(st["state"], "done", "{st}");
    assert_eq!(st["result"], format!("/v1/simulations/{job}"));
    assert!(st.get("plan").is_none(), "{st}");
    let g = get(s.addr, &format!("/v1/simulations/{job}"), Some(READ));
    assert_eq!(g.json()["simulation"], cli_json);

    // Scopes, parameters, unknown fields, a plan without districts, unknown ids.
    assert_eq!(post_json(s.addr, &route, None, body).status, 401);
    assert_eq!(post_json(s.addr, &route, Some(READ), body).status, 403);
    let r = post_json(s.addr, &route, Some(WRITE), br#"{"move_prob": 2}"#);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("move_prob"), "{}", r.text());
    let r = post_json(s.addr, &route, Some(WRITE), br#"{"draws": 100000000}"#);
    assert_eq!(r.status, 422, "{}", r.text());
    let r = post_json(s.addr, &route, Some(WRITE), br#"{"moves": 0.1}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("moves"), "{}", r.text());
    let bare = plan(false);
    let r = post_json(s.addr, &format!("/v1/plans/{bare}/simulations"), Some(WRITE), b"{}");
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("blocks"), "{}", r.text());
    assert_eq!(get(s.addr, &format!("/v1/simulations/{}", "0".repeat(32)), Some(READ)).status, 404);
    let doc = get(s.addr, "/openapi.json", None).json();
    assert!(doc["paths"]["/v1/plans/{id}/simulations"]["post"].is_object());
    assert!(doc["components"]["schemas"]["SimulationRequest"].is_object());
}

/// A scenario set is a job of the service: the same comparison and plans as `catchment batch`.
#[test]
fn scenario_sets_run_as_jobs_like_catchment_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let mdg = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    let toml = r#"
[base]
schools = "schools.csv"
pupils = "pupils.csv"
matrix = "matrix.csv"
blocks = "blocks.csv"

[[scenario]]
name = "classes-of-25"
max_class_size = 25

[[scenario]]
name = "close-S31"
close = ["S31"]
"#;
    let names = ["schools.csv", "pupils.csv", "matrix.csv", "blocks.csv"];
    let dir = tmp.path().join("cli-in");
    std::fs::create_dir_all(&dir).unwrap();
    for n in names {
        std::fs::copy(mdg.join(n), dir.join(n)).unwrap();
    }
    std::fs::write(dir.join("scenarios.toml"), toml).unwrap();
    let o = Command::new(bin())
        .arg("batch")
        .arg(dir.join("scenarios.toml"))
        .arg("--out")
        .arg(tmp.path().join("cli-out"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let s = Server::start(&tmp.path().join("c.db"), &[]);
    let files: serde_json::Map<String, Value> =
        names.iter().map(|n| (n.to_string(), Value::String(read(&mdg.join(n))))).collect();
    let body = |toml: &str, files: &serde_json::Map<String, Value>| {
        serde_json::to_vec(&json!({"scenarios": toml, "files": files})).unwrap()
    };
    let r = post_json(s.addr, "/v1/scenarios", Some(WRITE), &body(toml, &files));
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/v1/scenarios/{id}").as_str()));
    let deadline = Instant::now() + Duration::from_secs(240);
    let st = loop {
        let r = get(s.addr, &format!("/v1/scenarios/{id}"), Some(READ));
        assert_eq!(r.status, 200, "{}", r.text());
        let j = r.json();
        if j["state"] != "running" {
            break j;
        }
        assert!(Instant::now() < deadline, "scenario set did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(st["state"], "done", "{st}");
    let links: Vec<&str> =
        st["files"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(
        links.contains(&format!("/v1/scenarios/{id}/files/close-S31/districts.csv").as_str()),
        "{links:?}"
    );
    // The comparison equals the CLI's apart from the solve times.
    let rows = |text: &str| -> Vec<Vec<String>> {
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let h = rdr.headers().unwrap().clone();
        let t = h.iter().position(|c| c == "solve_seconds").unwrap();
        rdr.records()
            .map(|r| {
                r.unwrap()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != t)
                    .map(|(_, v)| v.to_string())
                    .collect()
            })
            .collect()
    };
    let served = get(s.addr, &format!("/v1/scenarios/{id}/files/comparison.csv"), Some(READ));
    assert_eq!(served.status, 200);
    let cli = read(&tmp.path().join("cli-out/comparison.csv"));
    assert_eq!(rows(&served.text()), rows(&cli));
    assert_eq!(rows(&cli).len(), 3);
    for f in ["close-S31/districts.csv", "classes-of-25/schools.csv", "close-S31/certificate.json"]
    {
        let r = get(s.addr, &format!("/v1/scenarios/{id}/files/{f}"), Some(READ));
        assert_eq!(r.status, 200, "{f}");
        assert!(
            r.body == std::fs::read(tmp.path().join("cli-out").join(f)).unwrap(),
            "{f} differs from catchment batch"
        );
    }
    assert_eq!(
        get(s.addr, &format!("/v1/scenarios/{id}/files/base/assignments.csv"), None).status,
        401,
        "pupils need a token"
    );

    // Errors at submission: the scenario and the key; a file that was not uploaded; bad names.
    let bad = toml.replace("max_class_size = 25", "max_clas_size = 25");
    let r = post_json(s.addr, "/v1/scenarios", Some(WRITE), &body(&bad, &files));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("classes-of-25") && r.text().contains("max_clas_size"),
        "{}",
        r.text()
    );
    let outside = toml.replace("matrix = \"matrix.csv\"", "matrix = \"../matrix.csv\"");
    let r = post_json(s.addr, "/v1/scenarios", Some(WRITE), &body(&outside, &files));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("not among the uploaded files"), "{}", r.text());
    let mut renamed = files.clone();
    renamed.insert("../x.csv".into(), Value::String("a".into()));
    assert_eq!(post_json(s.addr, "/v1/scenarios", Some(WRITE), &body(toml, &renamed)).status, 400);
    assert_eq!(post_json(s.addr, "/v1/scenarios", Some(READ), &body(toml, &files)).status, 403);
}

/// The long flags `catchment solve --help` lists.
fn solve_flags() -> Vec<String> {
    let o = Command::new(bin()).args(["solve", "--help"]).output().unwrap();
    assert!(o.status.success());
    let mut flags: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-v, ").or_else(|| l.strip_prefix("-h, ")).unwrap_or(l);
            l.strip_prefix("--").map(|f| {
                f.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .next()
                    .unwrap()
                    .to_string()
            })
        })
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

/// The property paths (`a.b`) of a schema in an OpenAPI document, following `$ref`s.
fn schema_paths(doc: &Value, schema: &Value, prefix: &str, out: &mut Vec<String>) {
    let resolve = |s: &Value| -> Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap();
                doc["components"]["schemas"][name].clone()
            }
            None => s.clone(),
        }
    };
    let schema = resolve(schema);
    let alts: Vec<Value> = ["oneOf", "anyOf", "allOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array).cloned())
        .flatten()
        .collect();
    for a in alts {
        schema_paths(doc, &a, prefix, out);
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            out.push(path.clone());
            schema_paths(doc, v, &path, out);
        }
    }
}

/// Every option of `catchment solve` is a field of `POST /v1/plans` and the other way round:
/// both shells reach the same application layer. A flag is either mapped to its field or named
/// as the operator's (set once for the service, not per request) or the CLI's own output.
#[test]
fn cli_solve_options_and_http_plan_fields_are_the_same() {
    // flag -> request field.
    let mapped: &[(&str, &str)] = &[
        ("schools", "schools"),
        ("pupils", "pupils"),
        ("matrix", "matrix"),
        ("osrm", "routing.osrm"),
        ("osrm-profile", "routing.profile"),
        ("osrm-table-size", "routing.table_size"),
        ("snap-limit", "routing.snap_limit_m"),
        ("allow-unreachable", "routing.allow_unreachable"),
        ("skip-ungeocoded", "routing.skip_ungeocoded"),
        ("solver", "policy.solver"),
        ("max-walk", "policy.max_walk"),
        ("unit", "policy.unit"),
        ("min-class-size", "policy.min_class_size"),
        ("max-class-size", "policy.max_class_size"),
        ("contiguous", "policy.contiguous"),
        ("whole-segments", "policy.whole_segments"),
        ("split-street-cost", "policy.split_street_cost"),
        ("nearest", "policy.nearest"),
        ("crs", "crs"),
        ("blocks", "blocks"),
        ("block-matrix", "block_matrix"),
        ("streets", "streets"),
        ("area", "area"),
        ("compare", "compare"),
        ("exclude-blocks", "exclude_blocks"),
        ("previous", "stability.previous"),
        ("change-cost", "stability.change_cost"),
        ("max-changed-blocks", "stability.max_changed_blocks"),
        ("pin", "pins"),
    ];
    // Flags that are not per request: the CLI's output and help, and the routing settings
    // that are the operator's on a service (extract, cache, concurrency, deadline, reports).
    let cli_only: &[&str] = &[
        "out",
        "force",
        "help",
        "verbose",
        "log-format",
        "osm",
        "cache-dir",
        "no-cache",
        "osrm-concurrency",
        "osrm-deadline",
        "geocode-report",
    ];
    let flags = solve_flags();
    let mut expected: Vec<String> = mapped
        .iter()
        .map(|(f, _)| f.to_string())
        .chain(cli_only.iter().map(|f| f.to_string()))
        .collect();
    expected.sort();
    assert_eq!(flags, expected, "every solve flag is mapped to a request field or named CLI-only");

    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("p.db"), &[]);
    let doc = get(s.addr, "/openapi.json", None).json();
    let mut fields = Vec::new();
    schema_paths(&doc, &doc["components"]["schemas"]["PlanRequest"], "", &mut fields);
    // The policy is an open object in the schema: its fields are the library's Policy.
    let policy = serde_json::to_value(catchment::Policy::default()).unwrap();
    fields.extend(policy.as_object().unwrap().keys().map(|k| format!("policy.{k}")));
    let mut want: Vec<String> = mapped.iter().map(|(_, f)| f.to_string()).collect();
    // Service-only: `keep_inputs` asks the service to keep the request for re-solves (the CLI
    // keeps its input files itself).
    want.extend(["routing", "policy", "stability", "keep_inputs"].map(String::from));
    want.sort();
    fields.sort();
    fields.dedup();
    assert_eq!(fields, want, "every request field is a solve flag");
}

/// A user's mistake in the policy: exit code 3 on the CLI, 422 over HTTP, the same message.
#[test]
fn a_policy_mistake_is_exit_3_and_422_with_the_same_text() {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(bin())
        .arg("solve")
        .arg("--schools")
        .arg(demo_dir().join("schools.csv"))
        .arg("--pupils")
        .arg(demo_dir().join("pupils.csv"))
        .arg("--matrix")
        .arg(demo_dir().join("matrix.csv"))
        .args(["--min-class-size", "99", "--out"])
        .arg(tmp.path().join("plan"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(stderr.contains("--max-class-size"), "the CLI's hint names its flag: {stderr}");
    let s = Server::start(&tmp.path().join("p.db"), &[]);
    let r = post_json(
        s.addr,
        "/v1/plans?wait=true",
        Some(WRITE),
        &request_for(&demo_dir(), json!({"min_class_size": 99})),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    let e = r.json();
    assert_eq!(e["error"], "invalid_policy");
    let message = e["message"].as_str().unwrap();
    assert!(stderr.contains(&format!("error: {message}")), "{stderr}\nvs\n{message}");
    assert!(!message.contains("--"), "no CLI flag in the service's message: {message}");
    assert!(e["hint"].as_str().unwrap().contains("policy.max_class_size"), "{e}");
    // Contiguous districts without the city's blocks: refused at submission, not queued.
    let r = post_json(
        s.addr,
        "/v1/plans",
        Some(WRITE),
        &request_for(&demo_dir(), json!({"contiguous": true})),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_policy");
    // So are whole street segments without the city: the hint names the request field.
    let r = post_json(
        s.addr,
        "/v1/plans",
        Some(WRITE),
        &request_for(&demo_dir(), json!({"whole_segments": true})),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_policy");
    assert!(r.json()["hint"].as_str().unwrap().contains("blocks"), "{}", r.text());

    // A cap on changed blocks cannot be met: exit 4 / 422 infeasible, the same reason.
    let prev = "block_id,school_id\n";
    let prev_path = tmp.path().join("prev.csv");
    std::fs::write(&prev_path, prev).unwrap();
    let o = Command::new(bin())
        .arg("solve")
        .arg("--schools")
        .arg(demo_dir().join("schools.csv"))
        .arg("--pupils")
        .arg(demo_dir().join("pupils.csv"))
        .arg("--matrix")
        .arg(demo_dir().join("matrix.csv"))
        .arg("--previous")
        .arg(&prev_path)
        .args(["--out"])
        .arg(tmp.path().join("plan2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "--previous without a rule is a usage error");
}

/// Stability and a comparison over HTTP: the same plan and published files as the CLI.
#[test]
fn stability_and_comparison_over_http_equal_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let mdg = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg");
    let previous = mdg.join("districts-seed2022.csv");
    // Three blocks left out (their walks not trusted), the same way on both.
    let exclude = common::write(
        tmp.path(),
        "exclude.csv",
        "block_id,reason\nCRS3035RES100mN3226500E4433000,x\nCRS3035RES100mN3226100E4432900,x\nCRS3035RES100mN3216200E4433100,x\n",
    );
    let cli = CliPlan::solve(
        &mdg,
        &tmp.path().join("cli"),
        &[
            "--blocks",
            mdg.join("blocks.csv").to_str().unwrap(),
            "--previous",
            previous.to_str().unwrap(),
            "--change-cost",
            "500",
            "--compare",
            previous.to_str().unwrap(),
            "--exclude-blocks",
            exclude.to_str().unwrap(),
        ],
    );
    let s = Server::start(&tmp.path().join("s.db"), &[]);
    let body = serde_json::to_vec(&json!({
        "schools": read(&mdg.join("schools.csv")),
        "pupils": read(&mdg.join("pupils.csv")),
        "matrix": read(&mdg.join("matrix.csv")),
        "blocks": read(&mdg.join("blocks.csv")),
        "compare": read(&previous),
        "exclude_blocks": read(&exclude),
        "stability": {"previous": read(&previous), "change_cost": 500},
    }))
    .unwrap();
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let summary = r.json()["summary"].clone();
    let mut cli_summary: Value = serde_json::from_slice(&cli.file("summary.json")).unwrap();
    let mut http_summary = summary.clone();
    for v in [&mut cli_summary, &mut http_summary] {
        v.as_object_mut().unwrap().remove("timing");
        v.as_object_mut().unwrap().remove("distance_source");
    }
    assert!(http_summary["stability"].is_object(), "the stability section is there");
    let excluded = &http_summary["routing_check"]["excluded"];
    assert_eq!(excluded["blocks"], 3, "{excluded}");
    assert!(excluded["pupils_left_out"].as_u64().unwrap() >= 2, "two of them hold pupils");
    assert_eq!(http_summary, cli_summary);
    for f in ["districts.csv", "routing-check.csv", "report.html"] {
        let r = get(s.addr, &format!("/v1/plans/{id}/files/{f}"), Some(READ));
        assert_eq!(r.status, 200, "{f}: {}", r.text());
        let cli_file = cli.file(f);
        let (a, b) = (String::from_utf8_lossy(&r.body), String::from_utf8_lossy(&cli_file));
        if f == "report.html" {
            // The comparison row is labelled by the file's name (a path on the CLI).
            assert!(a.contains("Given districts (compare.csv)"), "the comparison is on the page");
        } else {
            assert!(a == b, "{f} differs from the CLI's");
        }
    }
}

/// A scenario that cannot be solved (infeasible: every pupil too far) is a row of the
/// comparison saying why; the set is done. The comparison is publishable: its reason names no
/// pupil (an infeasibility lists them), and the scenario plans' pupil matrices need a token.
#[test]
fn a_failed_scenario_set_names_no_pupil_without_a_token() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = demo_dir();
    let toml = r#"
[base]
schools = "schools.csv"
pupils = "pupils.csv"
matrix = "matrix.csv"

[[scenario]]
name = "no-one-walks"
max_walk = 1
"#;
    let names = ["schools.csv", "pupils.csv", "matrix.csv"];
    let files: serde_json::Map<String, Value> =
        names.iter().map(|n| (n.to_string(), Value::String(read(&demo.join(n))))).collect();
    let s = Server::start(&tmp.path().join("p.db"), &["--public-artefacts"]);
    let body = serde_json::to_vec(&json!({"scenarios": toml, "files": files})).unwrap();
    let r = post_json(s.addr, "/v1/scenarios", Some(WRITE), &body);
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    let with_token = loop {
        let r = get(s.addr, &format!("/v1/scenarios/{id}"), Some(READ));
        let j = r.json();
        if j["state"] != "running" {
            break r.text();
        }
        assert!(Instant::now() < deadline, "scenario set did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    let pupils: Vec<String> = read(&demo.join("pupils.csv"))
        .lines()
        .skip(1)
        .map(|l| format!("'{}'", l.split(',').next().unwrap()))
        .collect();
    assert!(with_token.contains("\"done\""), "{with_token}");
    let comparison = get(s.addr, &format!("/v1/scenarios/{id}/files/comparison.csv"), None);
    assert_eq!(comparison.status, 200, "{}", comparison.text());
    assert!(
        comparison
            .text()
            .lines()
            .any(|l| l.starts_with("no-one-walks,") && l.contains("infeasible")),
        "{}",
        comparison.text()
    );
    // The set's status names no pupil, for a read token either.
    for p in &pupils {
        assert!(!with_token.contains(p.as_str()), "{p} in {with_token}");
    }
    for p in &pupils {
        assert!(!comparison.text().contains(p.as_str()), "{p} in {}", comparison.text());
    }
    let path = format!("/v1/scenarios/{id}/files/base/matrix.csv");
    assert_eq!(get(s.addr, &path, None).status, 401, "the kept pupil matrix needs a token");
    assert_eq!(get(s.addr, &path, Some(READ)).status, 200);
}
