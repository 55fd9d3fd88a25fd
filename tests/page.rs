//! The planning page in a real headless Chromium, driven over the DevTools protocol: sign in,
//! open the Magdeburg plan, move a block to a neighbouring district and see the figures the API
//! computes, undo, pin, re-optimise, save a version, reload and find it, compare it with the
//! plan — with no console error and no request leaving the service.

mod common;
use common::cdp::Browser;
use common::http::{get, post_json};
use common::server::{Server, READ, WRITE};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

fn magdeburg() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/magdeburg")
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// A block with pupils that touches a block of another district: (block, its neighbour's
/// school).
fn border_block(model: &Value) -> (String, String) {
    let blocks = model["blocks"].as_array().unwrap();
    let schools = model["schools"].as_array().unwrap();
    for (i, b) in blocks.iter().enumerate() {
        if b["pupils"].as_u64().unwrap() == 0 || b["at"].as_array().unwrap().len() != 1 {
            continue;
        }
        let s = b["school"].as_u64();
        for n in model["neighbours"][i].as_array().unwrap() {
            let Some(t) = blocks[n.as_u64().unwrap() as usize]["school"].as_u64() else {
                continue;
            };
            if Some(t) != s && !b["walk_m"][t as usize].is_null() {
                return (
                    b["id"].as_str().unwrap().to_string(),
                    schools[t as usize]["id"].as_str().unwrap().to_string(),
                );
            }
        }
    }
    panic!("no border block");
}

/// The figures the page shows: total walk (m) and each school's pupils.
fn shown(b: &mut Browser) -> (u64, Vec<(String, u64)>) {
    let v = b.eval(
        "({total: Number(document.getElementById('total').dataset.meters), \
          rows: [...document.querySelectorAll('#schools tbody tr')].map(tr => \
            [tr.dataset.school, Number(tr.querySelector('td.pupils').textContent)])})",
    );
    let rows = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_u64().unwrap()))
        .collect();
    (v["total"].as_u64().unwrap(), rows)
}

fn api_figures(e: &Value) -> (u64, Vec<(String, u64)>) {
    let rows = e["per_school"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_string(), s["pupils"].as_u64().unwrap()))
        .collect();
    (e["total_m"].as_u64().unwrap(), rows)
}

/// With `CATCHMENT_SCREENSHOTS=DIR` (`scripts/screenshots`), the page as it is now, scrolled
/// to `element`, saved as DIR/NAME (PNG).
fn shoot(b: &mut Browser, name: &str, element: &str) {
    use base64::Engine;
    let Some(dir) = std::env::var_os("CATCHMENT_SCREENSHOTS") else { return };
    b.eval(&format!("document.querySelector('{element}').scrollIntoView()"));
    let shot =
        b.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": false}));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("a screenshot"))
        .unwrap();
    std::fs::write(Path::new(&dir).join(name), png).unwrap();
}

#[test]
fn the_planning_page_edits_pins_saves_and_compares() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("page.db"), &[]);
    let d = magdeburg();
    // Whole blocks (as the city publishes them), its streets, and the inputs kept for
    // certified re-solves from the page.
    let req = json!({
        "schools": read(&d.join("schools.csv")),
        "pupils": read(&d.join("pupils.csv")),
        "matrix": read(&d.join("matrix.csv")),
        "blocks": read(&d.join("blocks.csv")),
        "streets": read(&d.join("network.osm")),
        "policy": {"unit": "block"},
        "keep_inputs": true,
    });
    let r = post_json(s.addr, "/v1/plans?wait=true", Some(WRITE), req.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let model = get(s.addr, &format!("/v1/plans/{id}/files/edit.json"), Some(READ)).json();
    let blocks = model["blocks"].as_array().unwrap().len();
    assert_eq!(blocks, 4531, "every block of the city");
    let base = post_json(s.addr, &format!("/v1/plans/{id}/evaluate"), Some(READ), b"{}").json();

    let mut b = Browser::start();
    let origin = format!("http://{}", s.addr);
    b.navigate(&format!("{origin}/"));
    // Sign in (a write token: this test saves), open the plan.
    b.eval(&format!(
        "document.getElementById('token').value = '{WRITE}'; \
         document.querySelector('#signin button').click(); \
         document.getElementById('plan-id').value = '{id}'; \
         document.querySelector('#open button').click();"
    ));
    b.wait_for("document.body.dataset.ready === '1'", LIMIT);
    assert_eq!(b.eval("document.getElementById('plan-status').dataset.status"), json!("optimal"));
    assert_eq!(shown(&mut b), api_figures(&base));
    assert_eq!(b.eval("document.querySelectorAll('#map .blk').length"), json!(blocks));

    // Move a border block to its neighbour's school: the API's figures, at once.
    let (block, to) = border_block(&model);
    b.eval(&format!(
        "document.querySelector('[data-block=\"{block}\"]').dispatchEvent(new MouseEvent('click', {{bubbles: true}}))"
    ));
    b.wait_for("!document.getElementById('block').hidden", LIMIT);
    let started = Instant::now();
    b.eval(&format!(
        "document.querySelector('#block-table tr[data-school=\"{to}\"] button.move').click()"
    ));
    let round_trip = started.elapsed();
    let update_ms = b.eval("Number(document.body.dataset.updateMs)");
    println!(
        "a move on the {blocks}-block Magdeburg plan: figures updated in {update_ms} ms in the page \
         ({:.1} ms including the DevTools round trip)",
        round_trip.as_secs_f64() * 1000.0
    );
    let moved = post_json(
        s.addr,
        &format!("/v1/plans/{id}/evaluate"),
        Some(READ),
        json!({"moves": [{"block_id": block, "school_id": to}]}).to_string().as_bytes(),
    )
    .json();
    assert_eq!(shown(&mut b), api_figures(&moved));
    assert_ne!(moved["total_m"], base["total_m"]);
    assert_eq!(b.eval("document.getElementById('plan-status').dataset.status"), json!("edited"));

    // Undo: the plan as solved again; redo and undo once more.
    b.eval("document.getElementById('undo').click()");
    assert_eq!(shown(&mut b), api_figures(&base));
    b.eval("document.getElementById('redo').click()");
    assert_eq!(shown(&mut b), api_figures(&moved));
    b.eval("document.getElementById('undo').click()");

    // Pin the block where the move put it, then re-optimise the rest.
    b.eval(&format!(
        "document.querySelector('#block-table tr[data-school=\"{to}\"] button.move').click()"
    ));
    b.eval("document.getElementById('pin').click()");
    assert_eq!(b.eval("catchmentPage.state.pins.size"), json!(1));
    b.eval("document.getElementById('reoptimise').click()");
    b.wait_for("catchmentPage.state.undo.length === 2", LIMIT);
    let moves = b.eval("catchmentPage.state.moves");
    assert!(
        moves
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["block_id"] == block.as_str() && m["school_id"] == to.as_str()),
        "the pin holds: {moves}"
    );
    let reopt = post_json(
        s.addr,
        &format!("/v1/plans/{id}/evaluate"),
        Some(READ),
        json!({ "moves": moves }).to_string().as_bytes(),
    )
    .json();
    assert_eq!(shown(&mut b), api_figures(&reopt));

    // Save as a version, reload, find it, compare it with the plan.
    b.eval(
        "document.getElementById('note').value = 'estate kept with its school'; \
            document.querySelector('#save button').click();",
    );
    b.wait_for("document.querySelectorAll('#versions li').length === 1", LIMIT);
    b.call("Page.reload", json!({}));
    b.wait_for("document.body.dataset.ready === '1'", LIMIT);
    let listed = b.eval("document.getElementById('versions').textContent");
    assert!(listed.as_str().unwrap().contains("estate kept with its school"), "{listed}");
    b.eval("document.querySelector('#versions li button.compare').click()");
    b.wait_for("!document.getElementById('diff').hidden", LIMIT);
    let vid = get(s.addr, &format!("/v1/plans/{id}/versions"), Some(READ)).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let diff = get(s.addr, &format!("/v1/diff?a={id}&b={vid}"), Some(READ)).json();
    let mut want: Vec<String> = diff["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["block_id"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert!(want.contains(&block), "the pinned block changes school");
    let highlighted = b.eval(
        "[...document.querySelectorAll('#map .blk.changed')].map(e => e.dataset.block).sort()",
    );
    let mut got: Vec<String> =
        highlighted.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    got.sort();
    assert_eq!(got, want, "the blocks that change school are highlighted");
    // Side by side: the plan (A) and the version (B), the same blocks highlighted on B.
    b.wait_for("document.getElementById('diff').dataset.ready === '1'", LIMIT);
    assert_eq!(b.eval("document.querySelectorAll('#map-a .blk').length"), json!(blocks));
    let side = b.eval(
        "[...document.querySelectorAll('#map-b .blk.changed')].map(e => e.dataset.block).sort()",
    );
    let mut side: Vec<String> =
        side.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    side.sort();
    assert_eq!(side, want, "the side-by-side map highlights the same blocks");
    shoot(&mut b, "page-compare.png", "#diff");

    // Publish the version: a certified plan with the version's districts, its council files
    // listed for download.
    b.eval("document.querySelector('#versions li button.publish').click()");
    b.wait_for("!document.getElementById('publish').hidden", LIMIT);
    let pid = b.eval("document.getElementById('publish').dataset.plan");
    let pid = pid.as_str().unwrap().to_string();
    let published = get(s.addr, &format!("/v1/plans/{pid}"), Some(READ)).json();
    let files =
        b.eval("[...document.querySelectorAll('#publish-files li')].map(li => li.dataset.file)");
    assert_eq!(files, published["links"]["published"], "the council's files of the version");
    let version = get(s.addr, &format!("/v1/versions/{vid}"), Some(READ)).json();
    let served = get(s.addr, &format!("/v1/plans/{pid}/files/districts.csv"), Some(READ)).text();
    for line in served.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if !f[1].is_empty() {
            assert_eq!(version["districts"][f[0]], f[1], "block {} as in the version", f[0]);
        }
    }

    // Robustness: the simulation's overflow probabilities as a chart, one bar a school.
    b.eval("document.getElementById('simulate').click()");
    b.wait_for("!document.getElementById('sim').hidden", LIMIT);
    let sid = b.eval("document.getElementById('sim').dataset.simulation");
    let sim = get(s.addr, &format!("/v1/simulations/{}", sid.as_str().unwrap()), Some(READ)).json();
    let n_schools = model["schools"].as_array().unwrap().len();
    assert_eq!(sim["simulation"]["per_school"].as_array().unwrap().len(), n_schools);
    assert_eq!(
        b.eval("document.querySelectorAll('#sim-chart rect.p').length"),
        json!(n_schools),
        "one bar a school"
    );
    let any = format!("{:.1}%", sim["simulation"]["p_any_over_capacity"].as_f64().unwrap() * 100.0);
    let summary = b.eval("document.getElementById('sim-summary').textContent");
    assert!(summary.as_str().unwrap().contains(&any), "{summary} shows {any}");

    // Pin a whole street, then a certified re-solve with the pins: the page opens the new
    // plan, whose figures are the service's and whose summary says what the pins cost.
    let streets = model["streets"].as_array().expect("edit.json names the streets");
    let (street_block, street) = model["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|bl| {
            let k = bl["streets"].as_array()?.first()?.as_u64()?;
            (bl["pupils"].as_u64().unwrap() > 0)
                .then(|| (bl["id"].as_str().unwrap().to_string(), k))
        })
        .expect("a block with pupils on a named street");
    let on_street: Vec<&str> = model["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|bl| {
            bl["streets"].as_array().is_some_and(|s| s.contains(&json!(street)))
                && bl["school"].is_u64()
        })
        .map(|bl| bl["id"].as_str().unwrap())
        .collect();
    b.eval("document.getElementById('undo').click(); document.getElementById('undo').click();");
    b.eval("catchmentPage.state.pins.clear()");
    b.eval(&format!(
        "document.querySelector('[data-block=\"{street_block}\"]').dispatchEvent(new MouseEvent('click', {{bubbles: true}}))"
    ));
    b.eval("document.querySelector('#block-streets button.pin-street').click()");
    assert_eq!(
        b.eval("document.querySelector('#block-streets button.pin-street').dataset.street"),
        streets[street as usize]
    );
    assert_eq!(b.eval("catchmentPage.state.pins.size"), json!(on_street.len()));
    b.eval("document.getElementById('resolve').click()");
    b.wait_for(
        &format!("catchmentPage.state.planId !== '{id}' && document.body.dataset.ready === '1'"),
        LIMIT,
    );
    let rid = b.eval("catchmentPage.state.planId");
    let resolved = get(s.addr, &format!("/v1/plans/{}", rid.as_str().unwrap()), Some(READ)).json();
    assert_eq!(resolved["summary"]["pins"]["blocks"], json!(on_street.len()), "{resolved}");
    let (total, _) = shown(&mut b);
    assert_eq!(total, resolved["summary"]["walk"]["total_m"].as_u64().unwrap());
    shoot(&mut b, "page-plan.png", "header");

    // A scenario set side by side: its comparison table and each scenario's total walk.
    let toml = "[base]\nschools = \"schools.csv\"\npupils = \"pupils.csv\"\nmatrix = \"matrix.csv\"\n\n[[scenario]]\nname = \"close-S31\"\nclose = [\"S31\"]\n";
    let files = json!({
        "schools.csv": read(&d.join("schools.csv")),
        "pupils.csv": read(&d.join("pupils.csv")),
        "matrix.csv": read(&d.join("matrix.csv")),
    });
    let r = post_json(
        s.addr,
        "/v1/scenarios",
        Some(WRITE),
        json!({"scenarios": toml, "files": files}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let set = r.json()["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + LIMIT;
    while get(s.addr, &format!("/v1/scenarios/{set}"), Some(READ)).json()["state"] == "running" {
        assert!(Instant::now() < deadline, "the scenario set did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let comparison =
        get(s.addr, &format!("/v1/scenarios/{set}/files/comparison.csv"), Some(READ)).text();
    b.eval(&format!(
        "document.getElementById('set-id').value = '{set}'; \
         document.querySelector('#open-set button').click();"
    ));
    b.wait_for("!document.getElementById('set-table').hidden", LIMIT);
    let rows = b.eval("document.querySelectorAll('#set-table tbody tr').length");
    assert_eq!(rows, json!(comparison.lines().count() - 1), "one row a scenario");
    assert_eq!(b.eval("document.querySelectorAll('#set-chart rect').length"), rows);

    // German.
    b.eval("const l = document.getElementById('lang'); l.value = 'de'; l.dispatchEvent(new Event('change'));");
    assert_eq!(b.eval("document.querySelector('#undo').textContent"), json!("Rückgängig"));

    let errors = b.errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    let requests = b.requests();
    assert!(requests.len() > 5, "{requests:?}");
    for u in &requests {
        assert!(u.starts_with(&format!("{origin}/")), "a request left the service: {u}");
    }
}
