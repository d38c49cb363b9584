//! One way down (issue 16): every top-level module of the crate imports only the
//! modules `lib.rs`'s `# Layout` lists before it, so the import graph has no loop.
//! Read from the sources: `crate::NAME` paths outside comments and test modules.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The modules in the order the layout lists them, bottom first.
fn layout_order(lib: &str) -> Vec<String> {
    let mut order = Vec::new();
    for line in lib.lines().take_while(|l| l.starts_with("//!")) {
        let Some(item) = line.strip_prefix("//! - ") else {
            continue;
        };
        // "[`a`], [`b`]: ..." names the modules before the colon.
        let head = item.split("]:").next().unwrap_or("");
        for part in head.split("[`").skip(1) {
            if let Some(name) = part.split('`').next() {
                order.push(name.to_string());
            }
        }
    }
    order
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `text` names as `crate::NAME`, leaving out comments and
/// everything from the first `#[cfg(test)]` on (tests may reach anywhere).
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for part in line.split("crate::").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&name) {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let order = layout_order(&lib);
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let listed: BTreeSet<String> = order.iter().cloned().collect();
    assert_eq!(
        listed, modules,
        "lib.rs's layout must list every module once"
    );
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        let Some(rank) = order.iter().position(|m| *m == module) else {
            continue; // lib.rs, main.rs
        };
        let stem = file.file_stem().unwrap().to_string_lossy();
        if stem == "tests" || stem.ends_with("_tests") {
            continue; // unit tests, declared under #[cfg(test)]
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for used in imports(&text, &modules) {
            let used_rank = order.iter().position(|m| *m == used).unwrap();
            if used != module && used_rank > rank {
                wrong.push(format!(
                    "{} imports {used}, listed above {module}",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up:\n{}",
        wrong.join("\n")
    );
}

/// The HTTP layer's own modules (`src/http/NAME.rs` with `src/http/NAME/`) import
/// each other without a loop: shared words (outputs, quality, routes, errors) sit
/// below the resources that use them.
#[test]
fn http_modules_import_each_other_without_a_loop() {
    let http = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let modules: BTreeSet<String> = std::fs::read_dir(&http)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    let mut files = Vec::new();
    rust_files(&http, &mut files);
    let mut edges: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for file in files {
        let rel = file.strip_prefix(&http).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if file.file_stem().unwrap() == "tests" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let uses = edges.entry(module.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for prefix in ["super::", "crate::http::"] {
                for part in line.split(prefix).skip(1) {
                    // `super::{a, b}` or `super::a`
                    let names = match part.strip_prefix('{') {
                        Some(group) => group.split('}').next().unwrap_or("").to_string(),
                        None => part.to_string(),
                    };
                    for name in names.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
                        if name != module && modules.contains(name) {
                            uses.insert(name.to_string());
                        }
                    }
                }
            }
        }
    }
    // Depth-first search for a cycle.
    fn visit(
        m: &str,
        edges: &std::collections::BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            return Some(path[i..].to_vec());
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in edges.keys() {
        let cycle = visit(m, &edges, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "http modules import each other: {cycle:?}");
    }
}
