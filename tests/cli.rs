//! The `sfpm` command line as php-fpm's: `-v`, `-m`, `-i`, `-h`, `-t`/`-tt`, and the
//! exit codes and messages of a bad configuration.

use std::process::Command;

fn sfpm(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sfpm"))
        .args(args)
        .env("PHP_INI_SCAN_DIR", "")
        .output()
        .expect("run sfpm");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn conf(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sfpm-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("php-fpm.conf");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn version_modules_info_and_help() {
    let (code, out, _) = sfpm(&["-n", "-v"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("PHP 8.2.") && out.contains("(fpm-fcgi)"), "{out}");
    let (code, out, _) = sfpm(&["-n", "-d", "zend_extension=opcache.so", "-m"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("[PHP Modules]\n")
            && out.contains("\ncgi-fcgi\n")
            && out.contains("[Zend Modules]\nZend OPcache"),
        "{out}"
    );
    let (code, out, _) = sfpm(&["-n", "-i"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("phpinfo()\n") && out.contains("\nServer API => sfpm\n"),
        "{}",
        &out[..200.min(out.len())]
    );
    let (code, out, _) = sfpm(&["-h"]);
    assert_eq!(code, 0);
    assert!(out.contains("-y, --fpm-config <file>"), "{out}");
    let (code, _, err) = sfpm(&["--bogus"]);
    assert_eq!(code, 64, "usage errors exit 64 as php-fpm");
    assert!(err.contains("unknown option --bogus"), "{err}");
}

#[test]
fn test_mode_reports_a_good_and_a_bad_configuration() {
    let good = conf(
        "good",
        "[global]\nerror_log = /dev/null\n[www]\nuser = nobody\nlisten = 127.0.0.1:9\npm = static\npm.max_children = 2\n",
    );
    let (code, _, err) = sfpm(&["-t", "-y", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("NOTICE: configuration file {} test is successful", good.display())),
        "{err}"
    );
    let (code, _, err) = sfpm(&["-tt", "-y", good.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(err.contains("NOTICE: \tpm.max_children = 2"), "{err}");

    let bad = conf("bad", "[www]\nuser = nobody\nlisten = 127.0.0.1:9\npm = static\npm.max_chilren = 2\n");
    let (code, _, err) = sfpm(&["-t", "-y", bad.to_str().unwrap()]);
    assert_eq!(code, 78, "configuration errors exit 78 as php-fpm");
    assert!(err.contains(&format!("ERROR: [{}:5] unknown entry 'pm.max_chilren'", bad.display())), "{err}");
    assert!(err.contains("ERROR: FPM initialization failed"), "{err}");
    let _ = std::fs::remove_dir_all(good.parent().unwrap());
    let _ = std::fs::remove_dir_all(bad.parent().unwrap());
}
