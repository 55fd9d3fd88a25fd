//! The binary matrix format end to end: `catchment matrix convert` round trips, solves on a
//! binary matrix equal solves on the CSV, and every kind of damage is refused with its own
//! message (exit code 3), ids checked against the instance as with CSV.

mod common;
#[path = "../src/bin/catchment-dataset/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use catchment::error::Error;
use catchment::routing::binary::{self, Header};
use catchment::routing::read_matrix;
use common::*;
use std::path::{Path, PathBuf};

fn town(dir: &Path) -> PathBuf {
    let t = dir.join("town");
    synthetic::write(&t, &synthetic::generate(300, 8, 5)).unwrap();
    t
}

fn convert(input: &Path, output: &Path) {
    let o = bin().args(["matrix", "convert"]).arg(input).arg(output).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn csv_to_binary_to_csv_gives_the_same_bytes() {
    let d = tempfile::tempdir().unwrap();
    let t = town(d.path());
    for name in ["matrix", "block-matrix"] {
        let csv = t.join(format!("{name}.csv"));
        let cmx = d.path().join(format!("{name}.cmx"));
        let back = d.path().join(format!("{name}.csv"));
        convert(&csv, &cmx);
        assert_eq!(&std::fs::read(&cmx).unwrap()[..8], b"\x89CMX\r\n\x1a\n");
        convert(&cmx, &back);
        assert_eq!(std::fs::read(&csv).unwrap(), std::fs::read(&back).unwrap(), "{name}");
        let meta = |p: &Path| std::fs::read(catchment::routing::matrix::meta_path(p)).ok();
        assert_eq!(meta(&csv), meta(&back), "{name}: sidecar");
    }
    // And the library reads both the same (source apart: the binary keeps the sidecar's).
    let inst = catchment::read_instance(&t.join("schools.csv"), &t.join("pupils.csv")).unwrap();
    let a = read_matrix(&t.join("matrix.csv"), &inst).unwrap();
    let b = read_matrix(&d.path().join("matrix.cmx"), &inst).unwrap();
    assert_eq!(a, b);
    assert!(b.seconds.is_some());
    let blocks = |p: &Path| catchment::districts::read_block_matrix(p, &inst.schools).unwrap();
    assert_eq!(blocks(&t.join("block-matrix.csv")), blocks(&d.path().join("block-matrix.cmx")));
}

#[test]
fn solve_on_a_binary_matrix_equals_solve_on_the_csv() {
    let d = tempfile::tempdir().unwrap();
    let t = town(d.path());
    // Named without an extension that says what it is: the content decides.
    let (cmx, bcmx) = (d.path().join("walks"), d.path().join("block-walks.bin"));
    convert(&t.join("matrix.csv"), &cmx);
    convert(&t.join("block-matrix.csv"), &bcmx);
    let solve = |matrix: &Path, block_matrix: &Path, out: &str| {
        let out = d.path().join(out);
        let o = bin()
            .arg("solve")
            .arg("--schools")
            .arg(t.join("schools.csv"))
            .arg("--pupils")
            .arg(t.join("pupils.csv"))
            .arg("--matrix")
            .arg(matrix)
            .arg("--blocks")
            .arg(t.join("blocks.csv"))
            .arg("--block-matrix")
            .arg(block_matrix)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        out
    };
    let a = solve(&t.join("matrix.csv"), &t.join("block-matrix.csv"), "csv");
    let b = solve(&cmx, &bcmx, "binary");
    for f in ["assignments.csv", "schools.csv", "certificate.json", "districts.csv"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f} differs"
        );
    }
    let summary = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap()).unwrap()
    };
    let (sa, sb) = (summary(&a), summary(&b));
    assert_eq!(sa["solver"]["objective_m"], sb["solver"]["objective_m"]);
    assert!(sa["solver"]["objective_m"].as_u64().is_some_and(|m| m > 0), "{sa}");
    // The distance source travels inside the binary file.
    assert_eq!(sa["distance_source"], sb["distance_source"]);
}

/// The small instance's matrix written in the binary format, and the instance.
fn small_binary(dir: &Path) -> (catchment::Instance, PathBuf, Vec<u8>) {
    let (s, p, m) = small_instance(dir);
    let inst = catchment::read_instance(&s, &p).unwrap();
    let matrix = read_matrix(&m, &inst).unwrap();
    let path = dir.join("matrix.cmx");
    catchment::routing::matrix::write_matrix_binary(&path, &inst, &matrix).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (inst, path, bytes)
}

fn error_of(inst: &catchment::Instance, path: &Path, bytes: &[u8]) -> String {
    std::fs::write(path, bytes).unwrap();
    match read_matrix(path, inst) {
        Err(e @ Error::Input(_)) => e.to_string(),
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn damaged_files_are_refused_with_their_own_message() {
    let d = tempfile::tempdir().unwrap();
    let (inst, path, good) = small_binary(d.path());
    assert_eq!(read_matrix(&path, &inst).unwrap().meters.len(), 15);
    let damaged = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        error_of(&inst, &path, &b)
    };
    // A flipped bit in the body, in the ids, in the header.
    let last_body = good.len() - 5;
    let m = damaged(&|b| b[last_body] ^= 1);
    assert!(
        m.contains("matrix.cmx: checksum mismatch: the binary matrix's body is damaged"),
        "{m}"
    );
    let m = damaged(&|b| b[binary::HEADER_LEN + 1] ^= 1);
    assert!(m.contains("checksum mismatch: the binary matrix's id section is damaged"), "{m}");
    let m = damaged(&|b| b[16] ^= 1);
    assert!(m.contains("checksum mismatch: the binary matrix's header is damaged"), "{m}");
    // Truncated anywhere.
    for cut in [5, 20, binary::HEADER_LEN + 3, good.len() - 30, good.len() - 1] {
        let m = damaged(&|b| b.truncate(cut));
        assert!(m.contains("the binary matrix is truncated: it ends after"), "cut {cut}: {m}");
    }
    let m = damaged(&|b| b.truncate(good.len() - 1));
    assert!(
        m.contains(&format!(
            "ends after {} bytes, but its header announces {}",
            good.len() - 1,
            good.len()
        )),
        "{m}"
    );
    let m = damaged(&|b| b.extend_from_slice(b"xyz"));
    assert!(m.contains("3 bytes follow the end of the binary matrix"), "{m}");
    // Wrong magic number: another binary format, or a damaged first byte.
    let m = damaged(&|b| b[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n"));
    assert!(m.contains("wrong magic number: neither a CSV matrix"), "{m}");
    let m = damaged(&|b| b[0] = b'X');
    assert!(m.contains("wrong magic number"), "{m}");
    // Line ends converted by a text transfer.
    let m = damaged(&|b| {
        b.remove(4);
    });
    assert!(m.contains("wrong magic number") && m.contains("line ends"), "{m}");
    // A version this catchment does not read.
    let m = damaged(&|b| b[8..12].copy_from_slice(&2u32.to_le_bytes()));
    assert!(
        m.contains(
            "binary matrix format version 2 is not supported: this catchment reads version 1"
        ),
        "{m}"
    );
}

#[test]
fn damaged_binary_matrix_exits_3_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (_, path, mut bytes) = small_binary(d.path());
    let n = bytes.len();
    bytes[n - 6] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let out = d.path().join("plan");
    let o = bin()
        .arg("solve")
        .arg("--schools")
        .arg(d.path().join("schools.csv"))
        .arg("--pupils")
        .arg(d.path().join("pupils.csv"))
        .arg("--matrix")
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("matrix.cmx: checksum mismatch"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists());
}

/// A binary matrix with these pupil and school ids (meters all 100).
fn binary_with(path: &Path, rows: &[&str], schools: &[&str]) -> Vec<u8> {
    let header = Header {
        rows: rows.iter().map(|s| s.to_string()).collect(),
        schools: schools.iter().map(|s| s.to_string()).collect(),
        ..Header::default()
    };
    let meters = vec![100; rows.len() * schools.len()];
    binary::write_file(path, &header, &meters, None).unwrap();
    std::fs::read(path).unwrap()
}

/// The CSV with the same pairs.
fn csv_with(rows: &[&str], schools: &[&str]) -> String {
    let mut s = String::from("pupil_id,school_id,meters\n");
    for r in rows {
        for c in schools {
            s.push_str(&format!("{r},{c},100\n"));
        }
    }
    s
}

#[test]
fn ids_must_match_the_instance_as_with_csv() {
    let d = tempfile::tempdir().unwrap();
    let (inst, path, _) = small_binary(d.path());
    let csv_path = d.path().join("matrix.csv");
    let both = |rows: &[&str], schools: &[&str]| {
        let bin = error_of(&inst, &path, &binary_with(&path, rows, schools));
        let csv = error_of(&inst, &csv_path, csv_with(rows, schools).as_bytes());
        (bin, csv)
    };
    let all = ["1", "2", "3", "4", "5"];
    // Unknown ids: the same message, without a line number in the binary file; pupil ids
    // (personal) are not echoed.
    let (bin, csv) = both(&["1", "2", "3", "4", "5", "9"], &["A", "B", "C"]);
    let unknown = "field 'pupil_id': unknown pupil id (not in the pupils file)";
    assert!(bin.contains(&format!("matrix.cmx: {unknown}")), "{bin}");
    assert!(csv.contains(&format!("matrix.csv:17: {unknown}")), "{csv}");
    assert!(!bin.contains("'9'") && !csv.contains("'9'"), "{bin}\n{csv}");
    let (bin, csv) = both(&all, &["A", "B", "C", "Z"]);
    assert!(bin.contains("matrix.cmx: field 'school_id': unknown school id 'Z'"), "{bin}");
    assert!(csv.contains("field 'school_id': unknown school id 'Z'"), "{csv}");
    // Missing pupils or schools: word for word the CSV's message.
    for (rows, schools) in [(&all[..4], &["A", "B", "C"][..]), (&all[..], &["A", "C"][..])] {
        let (bin, csv) = both(rows, schools);
        assert!(bin.contains("pupil-school pairs are missing"), "{bin}");
        assert_eq!(bin.replace("matrix.cmx", "matrix.csv"), csv);
    }
    // Ids in another order are matched by id.
    std::fs::write(&path, binary_with(&path, &["5", "4", "3", "2", "1"], &["C", "A", "B"]))
        .unwrap();
    assert!(read_matrix(&path, &inst).unwrap().meters.iter().all(|&m| m == 100));
}

/// `POST /v1/plans` as a form with the binary matrix file in its `matrix` field.
fn post_form(addr: std::net::SocketAddr, fields: &[(&str, Vec<u8>)]) -> common::http::Response {
    let boundary = "binary-matrix-boundary";
    let mut body = Vec::new();
    for (name, content) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let auth = format!("Bearer {}", common::server::WRITE);
    let ct = format!("multipart/form-data; boundary={boundary}");
    common::http::request(
        addr,
        "POST",
        "/v1/plans?wait=true",
        &[("Authorization", &auth), ("Content-Type", &ct)],
        &body,
    )
    .unwrap()
}

#[test]
fn http_reads_a_binary_matrix_field_like_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let t = town(d.path());
    let cmx = d.path().join("matrix.cmx");
    convert(&t.join("matrix.csv"), &cmx);
    let server = common::server::Server::start(&d.path().join("jobs.db"), &[]);
    let file = |p: &Path| std::fs::read(p).unwrap();
    let fields = |matrix: Vec<u8>| {
        vec![
            ("schools", file(&t.join("schools.csv"))),
            ("pupils", file(&t.join("pupils.csv"))),
            ("matrix", matrix),
        ]
    };
    let r = post_form(server.addr, &fields(file(&cmx)));
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let http = common::http::get(
        server.addr,
        &format!("/v1/plans/{id}/assignments.csv"),
        Some(common::server::READ),
    );
    let out = d.path().join("cli");
    let o = bin()
        .arg("solve")
        .arg("--schools")
        .arg(t.join("schools.csv"))
        .arg("--pupils")
        .arg(t.join("pupils.csv"))
        .arg("--matrix")
        .arg(t.join("matrix.csv"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(http.text(), std::fs::read_to_string(out.join("assignments.csv")).unwrap());

    // A damaged file: the CLI's message, 422.
    let mut bad = file(&cmx);
    let n = bad.len();
    bad[n - 7] ^= 2;
    let r = post_form(server.addr, &fields(bad));
    assert_eq!(r.status, 422, "{}", r.text());
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("matrix.cmx: checksum mismatch"), "{message}");
    // A data URL that is not base64.
    let body = serde_json::json!({
        "schools": std::fs::read_to_string(t.join("schools.csv")).unwrap(),
        "pupils": std::fs::read_to_string(t.join("pupils.csv")).unwrap(),
        "matrix": "data:application/vnd.catchment.matrix;base64,@@@",
    });
    let r = common::http::post_json(
        server.addr,
        "/v1/plans",
        Some(common::server::WRITE),
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("not valid base64"), "{}", r.text());
}
