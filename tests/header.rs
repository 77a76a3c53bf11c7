//! `include/sfpm.h` is generated from `src/ffi` by build.rs (cbindgen) and committed, so
//! C users need no Rust tool to read it. These tests fail when the committed copy is
//! not what the code generates now, and when a declaration breaks the naming rule.

use std::fs;

/// What build.rs generated from the current sources (`$OUT_DIR/sfpm.h`).
fn generated() -> String {
    fs::read_to_string(env!("SFPM_GENERATED_HEADER")).expect("build.rs writes the generated header")
}

fn committed() -> String {
    fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/sfpm.h")).unwrap_or_default()
}

#[test]
fn committed_header_is_current() {
    let (generated, committed) = (generated(), committed());
    if generated == committed {
        return;
    }
    let line = generated.lines().zip(committed.lines()).position(|(g, c)| g != c);
    let line = line.unwrap_or_else(|| generated.lines().count().min(committed.lines().count()));
    panic!(
        "include/sfpm.h is stale: it differs from what cbindgen generates from src/ffi from line {}.\n\
         Regenerate it with `SFPM_UPDATE_HEADER=1 cargo build --lib` and commit it.\n\
         generated: {:?}\ncommitted: {:?}",
        line + 1,
        generated.lines().nth(line).unwrap_or("<end of file>"),
        committed.lines().nth(line).unwrap_or("<end of file>"),
    );
}

/// The C identifiers in `s`, in order.
fn idents(s: &str) -> Vec<&str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect()
}

/// The identifier a top-level declaration line declares: `#define NAME`, `enum NAME`,
/// `typedef ... NAME;`, `typedef struct NAME {`, `} NAME;`, or a function `type NAME(`.
fn declared_name(line: &str) -> Option<&str> {
    if line.starts_with("#define ") || line.starts_with("enum ") {
        idents(line).get(1).copied()
    } else if line.starts_with("typedef ") || line.starts_with('}') {
        let words = idents(line);
        if line.ends_with(';') { words.last().copied() } else { words.get(2).copied() }
    } else if line.starts_with(|c: char| c.is_ascii_alphabetic()) && line.contains('(') {
        idents(&line[..line.find('(')?]).last().copied()
    } else {
        None
    }
}

#[test]
fn every_declaration_is_prefixed() {
    let header = generated();
    let names: Vec<&str> = header.lines().filter_map(declared_name).collect();
    assert!(
        names.len() > 30 && names.contains(&"sfpm_run") && names.contains(&"SFPM_ABI_VERSION"),
        "{names:?}"
    );
    for name in names {
        assert!(
            name.starts_with("sfpm_") || name.starts_with("SFPM_"),
            "{name} lacks the sfpm_/SFPM_ prefix"
        );
    }
}

#[test]
fn version_macros_come_from_cargo_toml() {
    let header = generated();
    for (name, value) in [
        ("SFPM_VERSION", format!("\"{}\"", env!("CARGO_PKG_VERSION"))),
        ("SFPM_VERSION_MAJOR", env!("CARGO_PKG_VERSION_MAJOR").to_string()),
        ("SFPM_VERSION_MINOR", env!("CARGO_PKG_VERSION_MINOR").to_string()),
        ("SFPM_VERSION_PATCH", env!("CARGO_PKG_VERSION_PATCH").to_string()),
    ] {
        let line = format!("#define {name} {value}");
        assert!(header.lines().any(|l| l == line), "the header lacks `{line}`");
    }
}
