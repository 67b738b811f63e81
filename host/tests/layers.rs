//! The host crate's architecture, checked: which module uses which, read
//! from the sources. Arrows point down only —
//! `main` → `cmd` → `cli` → {`lab`, `net`, `analysis`} → `ui` — a command never uses
//! another command, the network layer never decides a failure's exit
//! status, and no module cycle exists anywhere.
//!
//! `cargo test -p pmulab --test layers -- --nocapture` prints the graph.
#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which top-level layer may use which.
const ALLOWED: &[(&str, &[&str])] = &[
    ("main", &["cli", "cmd", "ui"]),
    ("cmd", &["analysis", "cli", "lab", "net", "ui"]),
    ("analysis", &["ui"]),
    ("cli", &["lab", "net"]),
    ("lab", &["net", "ui"]),
    ("net", &["ui"]),
    ("ui", &[]),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `cmd/pdc.rs` → `cmd::pdc`, `net/tls/mod.rs` → `net::tls`, `main.rs` → `main`.
fn module_of(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The modules of this crate a source file names: `crate::a::b` and
/// `super::x`, resolved to the longest path that is a module.
fn uses(
    module: &[String],
    is_mod_rs: bool,
    text: &str,
    known: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let words = |rest: &str| -> Vec<String> {
        rest.split("::")
            .map(|w| {
                w.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|w| !w.is_empty())
            .collect()
    };
    for (at, _) in code.match_indices("crate::") {
        let path = words(&code[at + "crate::".len()..]);
        found.insert(path);
    }
    // `super` is the parent of a file's module (of a mod.rs: of its folder's).
    let parent: Vec<String> = match is_mod_rs {
        true => module[..module.len().saturating_sub(1)].to_vec(),
        false => module[..module.len().saturating_sub(1)].to_vec(),
    };
    for (at, _) in code.match_indices("super::") {
        if code[..at].ends_with("::") {
            continue;
        }
        let mut path = parent.clone();
        path.extend(words(&code[at + "super::".len()..]));
        found.insert(path);
    }
    found
        .into_iter()
        .filter_map(|mut path| {
            while !path.is_empty() && !known.contains(&path) {
                path.pop();
            }
            (!path.is_empty() && path != module).then_some(path)
        })
        .collect()
}

#[test]
fn arrows_point_down_and_no_module_uses_itself_in_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(&root, f), f.clone()))
        .collect();
    let known: BTreeSet<Vec<String>> = modules.keys().cloned().collect();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let is_mod = file.file_name().is_some_and(|n| n == "mod.rs");
        let mut used = uses(module, is_mod, &text, &known);
        // A parent that only declares its children (`pub mod x;`) does not use them.
        used.retain(|u| !u.starts_with(module));
        graph.insert(module.clone(), used);
    }
    let mut problems = Vec::new();
    for (module, used) in &graph {
        let layer = module[0].as_str();
        let allowed = ALLOWED
            .iter()
            .find(|(l, _)| *l == layer)
            .map_or(&[][..], |(_, a)| a);
        for u in used {
            let target = u[0].as_str();
            println!("{} -> {}", module.join("::"), u.join("::"));
            if target != layer && !allowed.contains(&target) {
                problems.push(format!(
                    "{} uses {}: {layer} may not use {target}",
                    module.join("::"),
                    u.join("::")
                ));
            }
            if layer == "cmd" && target == "cmd" && u.len() > 1 && module.len() > 1 {
                problems.push(format!(
                    "command {} uses command {}",
                    module.join("::"),
                    u.join("::")
                ));
            }
            if layer == "net"
                && u.first().is_some_and(|t| t == "ui")
                && u.get(1).is_some_and(|m| m == "failure")
            {
                problems.push(format!(
                    "{} decides a failure (uses ui::failure)",
                    module.join("::")
                ));
            }
        }
    }
    // No cycles: a depth-first search for a back edge.
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                0 => visit(next, graph, state, stack, cycles),
                1 => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let names: Vec<String> = stack[from..].iter().map(|n| n.join("::")).collect();
                    cycles.push(format!("{} -> {}", names.join(" -> "), next.join("::")));
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
    }
    let mut state = BTreeMap::new();
    let mut cycles = Vec::new();
    for node in graph.keys() {
        if state.get(node).copied().unwrap_or(0) == 0 {
            visit(node, &graph, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    problems.extend(cycles.into_iter().map(|c| format!("module cycle: {c}")));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        graph.len() > 30,
        "the scan found only {} modules",
        graph.len()
    );
}
