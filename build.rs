//! Generates the C header from `src/ffi` with cbindgen, and gives libsfpm.so its soname.
//!
//! The header goes to `$OUT_DIR/sfpm.h`; `include/sfpm.h` is the committed copy, which a
//! build updates only when `SFPM_UPDATE_HEADER=1` (so plain builds never touch the work
//! tree); `tests/header.rs` fails while the two differ. Besides `OUT_DIR`, it writes one
//! thing: the `libsfpm.so.0` symlink next to the built library (see `link_soname`).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=SFPM_UPDATE_HEADER");
    // The soname carries the ABI major version: programs linked now keep loading
    // libsfpm.so.0 until an incompatible release ships libsfpm.so.1.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsfpm.so.0");

    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    link_soname(&out_dir);
    let generated = out_dir.join("sfpm.h");
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    config.after_includes = Some(version_macros());
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen: generate the header from src/ffi")
        .write_to_file(&generated);
    println!("cargo:rustc-env=SFPM_GENERATED_HEADER={}", generated.display());

    #[cfg(feature = "php")]
    php::build(&root, &out_dir);

    if env::var_os("SFPM_UPDATE_HEADER").is_some_and(|v| v == "1") {
        let committed = root.join("include/sfpm.h");
        if fs::read(&committed).ok() != fs::read(&generated).ok() {
            fs::copy(&generated, &committed).expect("update include/sfpm.h");
        }
    }
}

/// Programs linked against the build tree's `libsfpm.so` record its soname and look for
/// `libsfpm.so.0` when they run (tests, `examples/c` with `-Wl,-rpath,target/debug`): link
/// that name to the library in the profile directory, where cargo puts it. `OUT_DIR` is
/// `<profile dir>/build/sfpm-<hash>/out`. Best effort: an existing file is left alone.
fn link_soname(out_dir: &Path) {
    let Some(profile_dir) = out_dir.ancestors().nth(3) else { return };
    let link = profile_dir.join("libsfpm.so.0");
    if link.symlink_metadata().is_err() {
        let _ = std::os::unix::fs::symlink("libsfpm.so", link);
    }
}

/// The release macros, from the same Cargo.toml fields `sfpm_version()` is built from.
fn version_macros() -> String {
    let field = |name: &str| env::var(name).unwrap_or_else(|_| panic!("cargo sets {name}"));
    format!(
        "\n/* The release this header belongs to (Cargo.toml); sfpm_version() returns SFPM_VERSION. */\n\
         #define SFPM_VERSION \"{}\"\n\
         #define SFPM_VERSION_MAJOR {}\n\
         #define SFPM_VERSION_MINOR {}\n\
         #define SFPM_VERSION_PATCH {}",
        field("CARGO_PKG_VERSION"),
        field("CARGO_PKG_VERSION_MAJOR"),
        field("CARGO_PKG_VERSION_MINOR"),
        field("CARGO_PKG_VERSION_PATCH"),
    )
}

/// The PHP SAPI (feature `php`): compiles `sapi/` against libphp and generates the Rust
/// view of `sapi/sfpm_sapi.h` (the shim's own, PHP-free header).
#[cfg(feature = "php")]
mod php {
    use std::path::Path;
    use std::process::Command;

    /// `php-config8.2` by default; `PHP_CONFIG` picks another PHP build.
    fn php_config(arg: &str) -> String {
        let tool = std::env::var("PHP_CONFIG").unwrap_or_else(|_| "php-config8.2".to_string());
        let out = Command::new(&tool)
            .arg(arg)
            .output()
            .unwrap_or_else(|e| panic!("{tool} {arg}: {e} (install php8.2-dev, or set PHP_CONFIG)"));
        assert!(out.status.success(), "{tool} {arg} failed");
        String::from_utf8(out.stdout).expect("php-config prints text").trim().to_string()
    }

    pub fn build(root: &Path, out_dir: &Path) {
        println!("cargo:rerun-if-changed=sapi");
        println!("cargo:rerun-if-env-changed=PHP_CONFIG");
        let includes = php_config("--includes");
        let mut cc = cc::Build::new();
        // The header just generated into OUT_DIR, not the committed copy, which may lag.
        cc.file(root.join("sapi/sfpm_sapi.c")).include(out_dir).include(root.join("sapi"));
        for flag in includes.split_whitespace() {
            cc.flag(flag);
        }
        // PHP's headers are not -Wextra clean; the shim itself is -Wall -Werror clean.
        cc.flag("-Wall")
            .flag("-Werror")
            .flag("-Wno-unused-parameter")
            .flag("-Wno-missing-field-initializers");
        cc.compile("sfpm_sapi");
        // Debian's libphp8.2-embed: /usr/lib/libphp8.2.so (soname libphp.so).
        println!("cargo:rustc-link-lib=dylib=php8.2");

        bindgen::Builder::default()
            .header(root.join("sapi/sfpm_sapi.h").to_string_lossy())
            .clang_arg(format!("-I{}", out_dir.display()))
            .allowlist_var("sfpm_sapi_interpreter")
            .blocklist_type("sfpm_.*")
            .blocklist_type("sfpm_interpreter")
            .prepend_enum_name(false)
            .generate()
            .expect("bindgen: sapi/sfpm_sapi.h")
            .write_to_file(out_dir.join("sfpm_sapi.rs"))
            .expect("write sfpm_sapi.rs");
    }
}
