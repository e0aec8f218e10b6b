//! The import graph of `src/` has no cycles, between layers or inside them: a module may use its
//! own submodules and its ancestors' items (Rust's usual parent/child pattern), but two modules
//! that are not parent and child never import each other, directly or around a loop. What two
//! modules share lives in a third that both import. This test reads the sources (comment lines
//! and `#[cfg(test)] mod tests` blocks aside) and names every loop it finds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

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

/// `src/app/identity/mod.rs` → `[app, identity]`; `src/lib.rs` → `[]`.
fn module_of(root: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Module = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without comment lines and without a trailing unit-test module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path the code names from `crate::`, `super::` or `self::`, with `{…}` groups expanded
/// to their items' first segments.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let bytes: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !is_ident(bytes[i - 1]);
        let rest: String = bytes[i..bytes.len().min(i + 7)].iter().collect();
        let head = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|h| rest.starts_with(h));
        let (Some(head), true) = (head, starts_word) else {
            i += 1;
            continue;
        };
        let mut segments = vec![head.trim_end_matches("::").to_string()];
        i += head.len();
        loop {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            if i > start {
                segments.push(bytes[start..i].iter().collect());
            }
            if i < bytes.len() && bytes[i] == '{' {
                for first in group_items(&bytes, &mut i) {
                    let mut path = segments.clone();
                    path.push(first);
                    out.push(path);
                }
                out.push(segments);
                break;
            }
            if i + 2 < bytes.len() && bytes[i] == ':' && bytes[i + 1] == ':' {
                i += 2;
                continue;
            }
            out.push(segments);
            break;
        }
    }
    out
}

/// The first segment of each item of the `{…}` group at `bytes[*i]`; moves `i` past it.
fn group_items(bytes: &[char], i: &mut usize) -> Vec<String> {
    let mut depth = 0;
    let mut item = String::new();
    let mut items = Vec::new();
    while *i < bytes.len() {
        let c = bytes[*i];
        *i += 1;
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    items.push(std::mem::take(&mut item));
                    break;
                }
            }
            ',' if depth == 1 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items
        .iter()
        .map(|item| {
            item.trim()
                .chars()
                .take_while(|c| is_ident(*c))
                .collect::<String>()
        })
        .filter(|first| !first.is_empty() && first != "self")
        .collect()
}

/// The deepest module a path from `module` names.
fn resolve(module: &Module, path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let (mut base, mut rest) = match path[0].as_str() {
        "crate" => (Vec::new(), &path[1..]),
        "self" => (module.clone(), &path[1..]),
        _ => {
            let mut base = module.clone();
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
    };
    let mut found = modules.contains(&base).then(|| base.clone());
    while let Some((first, tail)) = rest.split_first() {
        base.push(first.clone());
        if modules.contains(&base) {
            found = Some(base.clone());
        }
        rest = tail;
    }
    found
}

fn related(a: &Module, b: &Module) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Strongly connected components with more than one module (Tarjan).
fn loops(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct State<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on_stack: BTreeSet<Module>,
        found: Vec<Vec<Module>>,
    }
    fn visit(state: &mut State<'_>, v: &Module) {
        let n = state.index.len();
        state.index.insert(v.clone(), n);
        state.low.insert(v.clone(), n);
        state.stack.push(v.clone());
        state.on_stack.insert(v.clone());
        for w in state.graph.get(v).into_iter().flatten() {
            if !state.index.contains_key(w) {
                visit(state, w);
                let low = state.low[v].min(state.low[w]);
                state.low.insert(v.clone(), low);
            } else if state.on_stack.contains(w) {
                let low = state.low[v].min(state.index[w]);
                state.low.insert(v.clone(), low);
            }
        }
        if state.low[v] == state.index[v] {
            let mut component = Vec::new();
            loop {
                let w = state.stack.pop().unwrap();
                state.on_stack.remove(&w);
                let done = &w == v;
                component.push(w);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

fn graph_of(root: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let sources: Vec<(Module, String)> = files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "main.rs"))
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            (module_of(root, f), code_of(&text))
        })
        .collect();
    let modules: BTreeSet<Module> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = BTreeMap::new();
    for (module, code) in &sources {
        let targets: BTreeSet<Module> = paths_in(code)
            .iter()
            .filter_map(|path| resolve(module, path, &modules))
            .filter(|target| !related(module, target))
            .collect();
        graph.insert(module.clone(), targets);
    }
    graph
}

#[test]
fn the_import_graph_has_no_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&root);
    assert!(graph.len() > 50, "too few modules found under src/");
    let name = |m: &Module| format!("crate::{}", m.join("::"));
    let report: Vec<String> = loops(&graph)
        .iter()
        .map(|component| {
            let edges: Vec<String> = component
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| component.contains(b))
                        .map(move |b| format!("{} -> {}", name(a), name(b)))
                })
                .collect();
            edges.join(", ")
        })
        .collect();
    assert!(
        report.is_empty(),
        "import cycles (move what both sides use into a module both can import):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle_and_grouped_imports() {
    let paths = paths_in("use super::{a::X, b, self};\nlet y = crate::c::d::f();");
    assert!(paths.contains(&vec!["super".into(), "a".into()]));
    assert!(paths.contains(&vec!["super".into(), "b".into()]));
    assert!(paths.contains(&vec!["crate".into(), "c".into(), "d".into(), "f".into()]));
    let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
    let mut graph = BTreeMap::new();
    graph.insert(m("x::a"), BTreeSet::from([m("x::b")]));
    graph.insert(m("x::b"), BTreeSet::from([m("x::c")]));
    graph.insert(m("x::c"), BTreeSet::from([m("x::a")]));
    graph.insert(m("x::d"), BTreeSet::from([m("x::a")]));
    let found = loops(&graph);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].len(), 3);
}
