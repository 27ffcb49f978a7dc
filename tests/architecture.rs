//! The runtime's house, checked: imports point down the layers, and no file imports one that
//! imports it back (directly or through others). Run it with `cargo test --test architecture`.
//!
//! Every reference a file's non-test code makes to another file of the crate counts: `use`
//! lines and paths in code alike (`crate::spool::Spool`, `super::fate::fate(..)`, `self::x`);
//! comments and `#[cfg(test)]` modules do not. A path resolves to the deepest file it names
//! (`crate::kafka::config::KafkaConfig` is `kafka/config.rs`; `crate::KafkaEvent` is `lib.rs`,
//! the facade, which nothing below it may lean on).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The runtime's layers, lowest first: a module may use its own layer's and lower ones'.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "ground floor",
        &[
            "message", "error", "secret", "stats", "striped", "flow", "gate", "topic", "rfc3339",
            "json",
        ],
    ),
    ("wire formats", &["envelope"]),
    ("events", &["key", "redact", "encode", "producer", "event"]),
    ("stores", &["models", "memory", "spool"]),
    // OpenTelemetry (feature `otel`, `otel/off.rs` without): below the send path and the
    // middleware, which call it.
    ("telemetry", &["otel"]),
    ("contracts", &["contract"]),
    ("kafka", &["kafka"]),
    ("outbox", &["outbox"]),
    ("middleware", &["middleware"]),
    ("testing", &["testing"]),
    ("facade", &["lib"]),
];

/// A source file: its path under `src`, and its module path (`kafka::send`).
struct SourceFile {
    rel: PathBuf,
    module: Vec<String>,
    code: String,
}

fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file's code without comments and without its `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // A test module: skip to its closing brace at the same indentation.
            let indent = &line[..line.len() - trimmed.len()];
            let next = lines.next().unwrap_or_default();
            if next.trim_start().starts_with("mod ") && next.trim_end().ends_with('{') {
                let close = format!("{indent}}}");
                for inner in lines.by_ref() {
                    if inner == close {
                        break;
                    }
                }
            }
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line.split(" //").next().unwrap_or_default());
        code.push('\n');
    }
    code
}

fn sources(root: &Path) -> Vec<SourceFile> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if path.is_dir() {
                // Tests of a folder's internals live in its `tests/`.
                if path.file_name().is_some_and(|n| n != "tests") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push(SourceFile {
                    module: module_of(&rel),
                    code: code_of(&text),
                    rel,
                });
            }
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    files
}

/// Every `crate::..`, `super::..` and `self::..` path in `code`, expanded into absolute module
/// paths (a `use a::{b, c::d}` group gives `a::b` and `a::c::d`).
/// A module's own submodules (its `mod x;` lines) are reached by their bare names (`x::f()`).
fn paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let children: Vec<String> = code
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let line = line.strip_prefix("pub ").unwrap_or(line);
            let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
            line.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_owned)
        })
        .collect();
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        // A path starts at an ASCII letter; the bytes inside a non-ASCII character are skipped.
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let start_ok = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':');
        let rest = &code[i..];
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|h| rest.starts_with(h));
        let child = children
            .iter()
            .find(|c| rest.starts_with(c.as_str()) && rest[c.len()..].starts_with("::"));
        match (head, child) {
            (Some(head), _) if start_ok => {
                let end = path_end(rest);
                for expanded in expand(&rest[..end]) {
                    found.push(absolute(&expanded, head, module));
                }
                i += end.max(head.len());
            }
            (None, Some(_)) if start_ok => {
                let end = path_end(rest);
                for expanded in expand(&rest[..end]) {
                    found.push(absolute(&format!("self::{expanded}"), "self::", module));
                }
                i += end.max(1);
            }
            _ => i += 1,
        }
    }
    found
}

/// Where a path (with any `{..}` groups) ends.
fn path_end(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => return i,
            _ => {}
        }
    }
    text.len()
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(path: &str) -> Vec<String> {
    let Some(open) = path.find('{') else {
        return vec![path.trim_end_matches(':').to_owned()];
    };
    let prefix = &path[..open];
    let inner = &path[open + 1..path.rfind('}').unwrap_or(path.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{}", p.split(" as ").next().unwrap())))
        .collect()
}

fn absolute(path: &str, head: &str, module: &[String]) -> Vec<String> {
    let segments: Vec<String> = path
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut base: Vec<String> = match head {
        "crate::" => Vec::new(),
        // In `x/mod.rs` the module is `x`; in `x/y.rs` it is `x::y`.
        "self::" => module.to_vec(),
        _ => module[..module.len().saturating_sub(1)].to_vec(),
    };
    let mut rest = segments.into_iter().skip(1).peekable();
    while rest.peek().is_some_and(|s| s == "super") {
        base.pop();
        rest.next();
    }
    base.extend(rest);
    base
}

/// The deepest known module a path names.
fn resolve(path: &[String], modules: &BTreeSet<Vec<String>>) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
        .unwrap_or_default()
}

fn layer_of(module: &[String]) -> usize {
    let top = module.first().map_or("lib", String::as_str);
    LAYERS
        .iter()
        .position(|(_, mods)| mods.contains(&top))
        .unwrap_or_else(|| panic!("module `{top}` is in no layer: add it to LAYERS"))
}

/// The file's code cut into pieces by the inline module (`mod x { .. }`) they are in, each
/// with its path below the file's module.
fn inline_modules(code: &str) -> Vec<(Vec<String>, String)> {
    let mut pieces: Vec<(Vec<String>, String)> = vec![(Vec::new(), String::new())];
    // Open inline modules, with the brace depth at which each closes.
    let mut open: Vec<(String, i64)> = Vec::new();
    let mut depth = 0i64;
    for line in code.lines() {
        let trimmed = line.trim();
        let declared = trimmed
            .trim_start_matches("pub ")
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix('{'))
            .map(|name| name.trim().to_owned());
        if let Some(name) = declared {
            open.push((name, depth));
            depth += 1;
            pieces.push((open.iter().map(|(n, _)| n.clone()).collect(), String::new()));
            continue;
        }
        depth += line.matches('{').count() as i64 - line.matches('}').count() as i64;
        if open.last().is_some_and(|(_, at)| depth <= *at) {
            open.pop();
            pieces.push((open.iter().map(|(n, _)| n.clone()).collect(), String::new()));
            continue;
        }
        let piece = &mut pieces.last_mut().unwrap().1;
        piece.push_str(line);
        piece.push('\n');
    }
    pieces
}

/// The graph of one crate: which module uses which.
fn graph(root: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = sources(root);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let targets: BTreeSet<Vec<String>> = inline_modules(&file.code)
            .into_iter()
            .flat_map(|(inline, code)| {
                let module: Vec<String> = file.module.iter().cloned().chain(inline).collect();
                paths(&code, &module)
            })
            .map(|p| resolve(&p, &modules))
            .filter(|target| *target != file.module)
            .collect();
        edges.insert(file.module.clone(), targets);
    }
    edges
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "lib".into()
    } else {
        module.join("::")
    }
}

/// A cycle in the graph, if there is one.
fn find_cycle(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = stack.iter().position(|n| n == node).unwrap();
                let mut cycle: Vec<String> = stack[from..].iter().map(|n| name(n)).collect();
                cycle.push(name(node));
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, edges, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

fn root(crate_dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(crate_dir)
        .join("src")
}

#[test]
fn runtime_imports_point_down_the_layers() {
    let edges = graph(&root("event-runtime"));
    let mut upward = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            if layer_of(to) > layer_of(from) {
                upward.push(format!(
                    "{} ({}) uses {} ({})",
                    name(from),
                    LAYERS[layer_of(from)].0,
                    name(to),
                    LAYERS[layer_of(to)].0
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports pointing up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    for krate in ["event-runtime", "event-macros", "rules"] {
        let edges = graph(&root(krate));
        assert!(edges.len() > 3, "{krate}: no sources found");
        if let Some(cycle) = find_cycle(&edges) {
            panic!("{krate}: import cycle {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_paths_groups_and_cycles() {
    let module = vec!["kafka".to_owned(), "send".to_owned()];
    let found = paths(
        "mod outcome;\nuse super::{fate::{Event, fate}, pipeline::Pipeline};\nlet x = crate::spool::Spool::open();\noutcome::check(x);",
        &module,
    );
    let found: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        found,
        [
            "kafka::fate::Event",
            "kafka::fate::fate",
            "kafka::pipeline::Pipeline",
            "spool::Spool::open",
            "kafka::send::outcome::check"
        ]
    );
    let code = code_of(
        "use a;\n// use crate::b;\n#[cfg(test)]\nmod tests {\n    use crate::c;\n}\nfn f() {}\n",
    );
    assert!(!code.contains("crate::b") && !code.contains("crate::c") && code.contains("fn f"));
    let edge = |a: &str, b: &str| (vec![a.to_owned()], BTreeSet::from([vec![b.to_owned()]]));
    let cyclic = BTreeMap::from([edge("a", "b"), edge("b", "a")]);
    assert!(find_cycle(&cyclic).is_some());
    let acyclic = BTreeMap::from([edge("a", "b"), (vec!["b".to_owned()], BTreeSet::new())]);
    assert!(find_cycle(&acyclic).is_none());
    let pieces = inline_modules("use a;\nmod inner {\n    use super::b;\n}\nuse c;\n");
    let inner: Vec<&str> = pieces
        .iter()
        .filter(|(path, _)| path == &["inner".to_owned()])
        .map(|(_, code)| code.trim())
        .collect();
    assert_eq!(inner, ["use super::b;"]);
}
