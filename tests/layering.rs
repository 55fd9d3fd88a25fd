//! The module graph runs one way (ARCHITECTURE.md, "The pipeline"): this test reads
//! `src/**/*.rs` (plain Rust, no parser crate), collects every path into the crate (`use
//! crate::..`, `use super::..`, inline `crate::a::b` and `super::x` paths, `catchment::..` in
//! `main.rs`), and fails
//!
//! - when a top-level module uses a module of a higher layer ([`LAYERS`]) or one of its own
//!   layer, naming the edge and the file and line it comes from;
//! - when the modules, or the files within one module, form a cycle, naming the cycle.
//!
//! `#[cfg(test)]` modules are left out: tests may use anything. Within a module, `mod.rs` is the
//! module's root (its shared types, its re-exports and the dispatch to its files): its files may
//! use it and it may use them, so the file-level check is over the other files; a name that
//! `mod.rs` re-exports from a file (`pub use file::Name`) counts as that file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use only modules of lower layers (and itself). `lib` is
/// the crate root (module declarations and re-exports); names `lib.rs` re-exports count as the
/// module they come from. `main` is the binary.
const LAYERS: &[&[&str]] = &[
    // Errors and the EPSG:3035 projection: no dependencies.
    &["error", "projection"],
    // Cooperative cancellation (a flag checked at cancellation points; its error).
    &["cancel"],
    // Domain types, their readers and the file helpers every writer uses.
    &["instance"],
    // Walking distances: matrix files, OSRM, cache, geocoding.
    &["routing"],
    // Index-space problems and their solvers (including the streamed solve over a matrix file).
    &["solve"],
    // The plan and its policy (types, class rules, messages with ids).
    &["plan"],
    // Last year's districts: penalties, changes, reports.
    &["stability"],
    // The solve step: `solve_plan` (the one place that picks a solver), stable solves, the curve.
    &["pipeline"],
    &["districts"],
    &["report"],
    &["output"],
    &["check"],
    // Where to build: site choices solved and written as plans.
    &["sites"],
    // The application layer both shells call.
    &["app"],
    // Scenario sets: many plan requests of the application layer, side by side.
    &["scenario"],
    // The crate root: re-exports only.
    &["lib"],
    &["server"],
    &["main"],
];

/// Edges that break the rules and are allowed for now, each with its reason. Only for code
/// another change is rewriting (`lib.rs`, `src/server/`); every entry must still occur (a stale
/// one fails, so the list only shrinks).
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// One use of a path: from which file (and line) to which module or file.
#[derive(Debug, Clone)]
struct Use {
    file: String,
    line: usize,
    path: String,
}

/// A source file: its top-level module (`lib`, `main` for the crate root and the binary) and, in
/// a module directory, its file within the module (`None` for `mod.rs`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FileId {
    top: String,
    child: Option<String>,
}

impl FileId {
    fn name(&self) -> String {
        match &self.child {
            Some(c) => format!("{}/{c}.rs", self.top),
            None => self.top.clone(),
        }
    }
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>();
    entries.sort();
    for p in entries {
        // src/bin/: the other binaries (the dataset generators) use the library from outside.
        if p.is_dir() && p.ends_with("src/bin") {
            continue;
        }
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn file_id(rel: &Path) -> FileId {
    let parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    let stem = |s: &str| s.trim_end_matches(".rs").to_string();
    match parts.as_slice() {
        [f] => FileId { top: stem(f), child: None },
        [d, f] if f == "mod.rs" => FileId { top: d.clone(), child: None },
        [d, f] => FileId { top: d.clone(), child: Some(stem(f)) },
        _ => panic!(
            "{}: modules nested deeper than src/module/file.rs are not checked yet",
            rel.display()
        ),
    }
}

// ------------------------------------------------------------------ lexing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Punct(&'static str),
    Other,
}

/// Tokens with their line numbers; comments, strings and char literals dropped.
fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += (c[i] == '\n') as usize;
                    i += 1;
                }
            }
        } else if (ch == 'r' || (ch == 'b' && at(i + 1) == 'r')) && {
            let mut j = i + if ch == 'b' { 2 } else { 1 };
            while at(j) == '#' {
                j += 1;
            }
            at(j) == '"'
        } {
            // Raw string: r#"..."#.
            let mut j = i + if ch == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|h| at(j + 1 + h) == '#') {
                    j += 1 + hashes;
                    break;
                }
                line += (c[j] == '\n') as usize;
                j += 1;
            }
            i = j;
            out.push((Tok::Other, line));
        } else if ch == '"' || (ch == 'b' && at(i + 1) == '"') {
            let mut j = i + if ch == 'b' { 2 } else { 1 };
            while j < c.len() && c[j] != '"' {
                if c[j] == '\\' {
                    j += 1;
                }
                line += (at(j) == '\n') as usize;
                j += 1;
            }
            i = j + 1;
            out.push((Tok::Other, line));
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            let s = i + if ch == 'b' { 1 } else { 0 };
            if at(s + 1) == '\\' {
                let mut j = s + 3;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
            } else if at(s + 2) == '\'' {
                i = s + 3;
            } else {
                // A lifetime or label.
                i = s + 1;
            }
            out.push((Tok::Other, line));
        } else if ch.is_alphanumeric() || ch == '_' {
            let mut j = i;
            while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
                j += 1;
            }
            let word: String = c[i..j].iter().collect();
            i = j;
            out.push((Tok::Ident(word), line));
        } else if ch == ':' && at(i + 1) == ':' {
            out.push((Tok::Punct("::"), line));
            i += 2;
        } else {
            let p = match ch {
                '{' => "{",
                '}' => "}",
                ',' => ",",
                ';' => ";",
                '#' => "#",
                '[' => "[",
                ']' => "]",
                '(' => "(",
                ')' => ")",
                '*' => "*",
                '$' => "$",
                _ => "",
            };
            out.push((if p.is_empty() { Tok::Other } else { Tok::Punct(p) }, line));
            i += 1;
        }
    }
    out
}

/// The tokens with `#[cfg(test)]` items (test modules) removed.
fn without_tests(toks: Vec<(Tok, usize)>) -> Vec<(Tok, usize)> {
    let id = |t: &Tok, s: &str| matches!(t, Tok::Ident(w) if w == s);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let is_cfg_test = toks.len() > i + 6
            && toks[i].0 == Tok::Punct("#")
            && toks[i + 1].0 == Tok::Punct("[")
            && id(&toks[i + 2].0, "cfg")
            && toks[i + 3].0 == Tok::Punct("(")
            && id(&toks[i + 4].0, "test")
            && toks[i + 5].0 == Tok::Punct(")")
            && toks[i + 6].0 == Tok::Punct("]");
        if !is_cfg_test {
            out.push(toks[i].clone());
            i += 1;
            continue;
        }
        // Skip the item: up to its first `;` at depth 0, or through its braces.
        let mut j = i + 7;
        let mut depth = 0;
        while j < toks.len() {
            match toks[j].0 {
                Tok::Punct("{") => depth += 1,
                Tok::Punct("}") => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                Tok::Punct(";") if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        i = j + 1;
    }
    out
}

/// Every path starting at `crate`, `super`, `self` or (in the binary) `catchment`, with use
/// trees expanded: `use crate::{a::b, c}` gives `crate::a::b` and `crate::c`.
fn paths(toks: &[(Tok, usize)], roots: &[&str]) -> Vec<(Vec<String>, usize)> {
    fn tree(
        toks: &[(Tok, usize)],
        mut i: usize,
        prefix: Vec<String>,
        out: &mut Vec<(Vec<String>, usize)>,
    ) -> usize {
        let mut path = prefix;
        let line = toks.get(i).map(|t| t.1).unwrap_or(0);
        loop {
            match toks.get(i).map(|t| &t.0) {
                Some(Tok::Ident(w)) => {
                    if w != "self" || path.is_empty() {
                        path.push(w.clone());
                    }
                    i += 1;
                }
                Some(Tok::Punct("*")) => {
                    i += 1;
                }
                Some(Tok::Punct("{")) => {
                    i += 1;
                    loop {
                        match toks.get(i).map(|t| &t.0) {
                            Some(Tok::Punct("}")) | None => return i + 1,
                            Some(Tok::Punct(",")) => i += 1,
                            _ => i = tree(toks, i, path.clone(), out),
                        }
                    }
                }
                _ => {
                    out.push((path, line));
                    return i;
                }
            }
            if toks.get(i).map(|t| &t.0) == Some(&Tok::Punct("::")) {
                i += 1;
            } else {
                // `as name` and the like end the path.
                out.push((path, line));
                return i;
            }
        }
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let starts = matches!(&toks[i].0, Tok::Ident(w) if roots.contains(&w.as_str()))
            && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Punct("::"))
            && !(i > 0 && toks[i - 1].0 == Tok::Punct("::"))
            && !(i > 0 && toks[i - 1].0 == Tok::Punct("$"));
        if starts {
            i = tree(toks, i, Vec::new(), &mut out);
        } else {
            i += 1;
        }
    }
    out
}

// ------------------------------------------------------------------ the graph

struct Crate {
    /// Top-level modules and their files (children).
    modules: BTreeMap<String, BTreeSet<String>>,
    /// Names re-exported by a module root (`lib` for the crate root) -> the module or file they
    /// come from.
    reexports: BTreeMap<(String, String), String>,
    files: Vec<(FileId, Vec<(Tok, usize)>)>,
}

fn read_crate() -> Crate {
    let src = src_dir();
    let mut list = Vec::new();
    rust_files(&src, &mut list);
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    for p in &list {
        let id = file_id(p.strip_prefix(&src).unwrap());
        let entry = modules.entry(id.top.clone()).or_default();
        if let Some(c) = &id.child {
            entry.insert(c.clone());
        }
        let text = std::fs::read_to_string(p).unwrap();
        files.push((id, without_tests(tokens(&text))));
    }
    // Re-exports of module roots: `pub use child::Name` (or `pub use child::{A, B}`).
    let mut reexports = BTreeMap::new();
    for (id, toks) in &files {
        if id.child.is_some() {
            continue;
        }
        let children: BTreeSet<String> = if id.top == "lib" {
            modules.keys().cloned().collect()
        } else {
            modules.get(&id.top).cloned().unwrap_or_default()
        };
        let owner = if id.top == "lib" { "lib".to_string() } else { id.top.clone() };
        for k in 0..toks.len() {
            let is_pub_use = matches!(&toks[k].0, Tok::Ident(w) if w == "pub")
                && matches!(toks.get(k + 1).map(|t| &t.0), Some(Tok::Ident(w)) if w == "use");
            if !is_pub_use {
                continue;
            }
            let end = (k..toks.len()).find(|&e| toks[e].0 == Tok::Punct(";")).unwrap_or(toks.len());
            let first = match toks.get(k + 2).map(|t| &t.0) {
                Some(Tok::Ident(w)) => w.clone(),
                _ => continue,
            };
            let found = paths(&toks[k + 2..end], &[first.as_str()]);
            for (p, _) in found {
                let p: Vec<String> =
                    if p.first().is_some_and(|f| f == "crate") { p[1..].to_vec() } else { p };
                if p.len() >= 2 && children.contains(&p[0]) {
                    reexports.insert((owner.clone(), p.last().unwrap().clone()), p[0].clone());
                }
            }
        }
    }
    Crate { modules, reexports, files }
}

/// Where a path from `from` lands: (top-level module, file within it if any).
fn resolve(c: &Crate, from: &FileId, path: &[String]) -> Option<(String, Option<String>)> {
    let first = path.first()?;
    // Absolute: `crate::` (or `catchment::` from the binary).
    let within_top = |top: &str, rest: &[String]| -> (String, Option<String>) {
        let children = c.modules.get(top).cloned().unwrap_or_default();
        match rest.first() {
            Some(n) if children.contains(n) => (top.to_string(), Some(n.clone())),
            Some(n) => match c.reexports.get(&(top.to_string(), n.clone())) {
                Some(child) => (top.to_string(), Some(child.clone())),
                None => (top.to_string(), None),
            },
            None => (top.to_string(), None),
        }
    };
    let from_root = |rest: &[String]| -> Option<(String, Option<String>)> {
        let n = rest.first()?;
        if c.modules.contains_key(n) && n != "lib" && n != "main" {
            return Some(within_top(n, &rest[1..]));
        }
        match c.reexports.get(&("lib".to_string(), n.clone())) {
            Some(m) => Some(within_top(m, &rest[1..])),
            None => Some(("lib".to_string(), None)),
        }
    };
    match first.as_str() {
        "crate" | "catchment" => from_root(&path[1..]),
        "super" => {
            if from.child.is_some() {
                if path.get(1).is_some_and(|p| p == "super") {
                    from_root(&path[2..])
                } else {
                    Some(within_top(&from.top, &path[1..]))
                }
            } else {
                from_root(&path[1..])
            }
        }
        "self" => {
            if from.child.is_some() {
                None
            } else if from.top == "lib" {
                from_root(&path[1..])
            } else {
                Some(within_top(&from.top, &path[1..]))
            }
        }
        // The crate root names its modules without `crate::`.
        _ if from.top == "lib" => from_root(path),
        _ => None,
    }
}

fn uses(c: &Crate) -> Vec<(FileId, (String, Option<String>), Use)> {
    let mut out = Vec::new();
    for (id, toks) in &c.files {
        let mut roots = vec!["crate", "super", "self"];
        if id.top == "main" {
            roots.push("catchment");
        }
        if id.top == "lib" {
            roots.extend(
                c.modules.keys().map(|m| m.as_str()).filter(|m| *m != "lib" && *m != "main"),
            );
        }
        for (p, line) in paths(toks, &roots) {
            if let Some(target) = resolve(c, id, &p) {
                out.push((id.clone(), target, Use { file: id.name(), line, path: p.join("::") }));
            }
        }
    }
    out
}

type Graph = BTreeMap<String, BTreeMap<String, Use>>;

/// The module graph and the file graph within each module, exceptions left out; the exceptions
/// seen.
fn graphs(c: &Crate) -> (Graph, BTreeMap<String, Graph>, BTreeSet<(String, String)>) {
    let mut modules: Graph = BTreeMap::new();
    let mut files: BTreeMap<String, Graph> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let is_exception = |a: &str, b: &str| EXCEPTIONS.iter().any(|e| e.0 == a && e.1 == b);
    for (from, (top, child), u) in uses(c) {
        if top != from.top {
            if is_exception(&from.top, &top) {
                seen.insert((from.top.clone(), top.clone()));
                continue;
            }
            modules.entry(from.top.clone()).or_default().entry(top).or_insert(u);
        } else if let (Some(a), Some(b)) = (&from.child, &child) {
            if a == b {
                continue;
            }
            let (fa, fb) = (from.name(), format!("{top}/{b}.rs"));
            if is_exception(&fa, &fb) {
                seen.insert((fa, fb));
                continue;
            }
            files.entry(top.clone()).or_default().entry(fa).or_default().entry(fb).or_insert(u);
        }
    }
    (modules, files, seen)
}

/// A cycle in `g`, as its nodes with the first repeated at the end.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(
        g: &Graph,
        n: &str,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).map(|e| e.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            match state.get(&m).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| *s == m).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m);
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(g, &m, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(g, n, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn describe(g: &Graph, cycle: &[String]) -> String {
    let mut s = cycle.join(" -> ");
    for w in cycle.windows(2) {
        let u = &g[&w[0]][&w[1]];
        s.push_str(&format!("\n    {} -> {}: {}:{} uses {}", w[0], w[1], u.file, u.line, u.path));
    }
    s
}

fn layer(m: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&m))
}

#[test]
fn every_module_is_in_a_layer() {
    let c = read_crate();
    let missing: Vec<&String> = c.modules.keys().filter(|m| layer(m).is_none()).collect();
    assert!(missing.is_empty(), "modules in no layer of LAYERS (tests/layering.rs): {missing:?}");
}

#[test]
fn modules_use_only_lower_layers() {
    let c = read_crate();
    let (g, _, _) = graphs(&c);
    let mut wrong = Vec::new();
    for (a, edges) in &g {
        for (b, u) in edges {
            let (Some(la), Some(lb)) = (layer(a), layer(b)) else { continue };
            if lb >= la {
                wrong.push(format!(
                    "{a} (layer {la}) uses {b} (layer {lb}): {}:{} uses {}",
                    u.file, u.line, u.path
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a module may use only modules of lower layers (LAYERS in tests/layering.rs):\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_module_graph_has_no_cycle() {
    let c = read_crate();
    let (g, _, _) = graphs(&c);
    if let Some(cycle) = find_cycle(&g) {
        panic!("modules in a cycle: {}", describe(&g, &cycle));
    }
}

#[test]
fn the_files_of_each_module_have_no_cycle() {
    let c = read_crate();
    let (_, files, _) = graphs(&c);
    let mut cycles = Vec::new();
    for g in files.values() {
        if let Some(cycle) = find_cycle(g) {
            cycles.push(describe(g, &cycle));
        }
    }
    assert!(cycles.is_empty(), "files in a cycle:\n  {}", cycles.join("\n  "));
}

#[test]
fn every_exception_is_still_needed() {
    let c = read_crate();
    let (_, _, seen) = graphs(&c);
    let stale: Vec<_> = EXCEPTIONS
        .iter()
        .filter(|e| !seen.contains(&(e.0.to_string(), e.1.to_string())))
        .map(|e| format!("{} -> {} ({})", e.0, e.1, e.2))
        .collect();
    assert!(
        stale.is_empty(),
        "exceptions that no longer occur: remove them from EXCEPTIONS in tests/layering.rs:\n  {}",
        stale.join("\n  ")
    );
}

/// The reader finds what it must: a known downward use, a `super::` use between files, a
/// re-exported name, an inline path, and a known back edge in source text.
#[test]
fn the_reader_sees_use_lines_inline_paths_and_super() {
    let c = read_crate();
    let (g, files, _) = graphs(&c);
    assert!(g["solve"].contains_key("routing"), "use crate::routing::.. in solve/mod.rs");
    assert!(g["districts"].contains_key("projection"), "use crate::projection in districts");
    assert!(g["main"].contains_key("solve"), "catchment::.. paths in main.rs");
    assert!(files["solve"]["solve/pricing.rs"].contains_key("solve/flow.rs"), "use super::flow");
    assert!(files["report"]["report/reproduce.rs"].contains_key("report/baseline.rs"));
    // Inline `crate::a::b` paths in code (not in `use`): a synthetic file with a back edge.
    let src = "fn f() { let x = crate::report::summarize(a, b, c); } // crate::output::x\n\
               const S: &str = \"crate::server::y\";";
    let toks = without_tests(tokens(src));
    let from = FileId { top: "solve".into(), child: Some("flow".into()) };
    let found: Vec<_> = paths(&toks, &["crate", "super", "self"])
        .into_iter()
        .filter_map(|(p, _)| resolve(&c, &from, &p))
        .collect();
    assert_eq!(found, vec![("report".to_string(), None)], "comments and strings are not paths");
    // `#[cfg(test)]` modules are left out.
    let src = "use super::lp;\n#[cfg(test)]\nmod tests { use crate::output::x; }\n";
    let found: Vec<_> = paths(&without_tests(tokens(src)), &["crate", "super", "self"])
        .into_iter()
        .filter_map(|(p, _)| resolve(&c, &from, &p))
        .collect();
    assert_eq!(found, vec![("solve".to_string(), Some("lp".to_string()))]);
}

/// `cargo test --test layering -- --ignored --nocapture` prints both graphs.
#[test]
#[ignore]
fn print_the_graphs() {
    let c = read_crate();
    let (g, files, seen) = graphs(&c);
    for (a, edges) in &g {
        println!("{a} -> {}", edges.keys().cloned().collect::<Vec<_>>().join(", "));
    }
    for (m, g) in &files {
        println!("\n{m}:");
        for (a, edges) in g {
            println!("  {a} -> {}", edges.keys().cloned().collect::<Vec<_>>().join(", "));
        }
    }
    println!("\nexceptions seen: {seen:?}");
}
