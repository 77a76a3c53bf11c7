//! The `sfpm` command line as php-fpm's: `-v`, `-m`, `-i`, `-h`, `-t`/`-tt`, and the
//! exit codes and messages of a bad configuration.

mod support;

use std::process::Command;
use support::*;

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

#[test]
fn sigusr1_reopens_the_logs_and_replaces_the_workers() {
    use sfpm::client::{self, FcgiRequest, Pair};
    let dir = TempDir::new("usr1");
    let log = dir.path("error.log");
    let access = dir.path("access.log");
    let port = free_port();
    let conf = dir.path("php-fpm.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nerror_log = {}\ndaemonize = no\n[www]\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = 2\n\
             access.log = {}\naccess.format = \"%m %r%Q%q %s\"\n",
            log.display(),
            access.display()
        ),
    )
    .unwrap();
    let script = dir.path("hello.php");
    std::fs::write(&script, "<?php echo 'hello';").unwrap();
    let script = script.display().to_string();
    let addr = Addr::Tcp(format!("127.0.0.1:{port}").parse().unwrap());
    let call = |query: &str| {
        let params: &[Pair<'_>] = &[
            (b"REQUEST_METHOD", b"GET"),
            (b"SCRIPT_FILENAME", script.as_bytes()),
            (b"SCRIPT_NAME", b"/hello.php"),
            (b"QUERY_STRING", query.as_bytes()),
        ];
        let mut conn = addr.connect().unwrap();
        client::fcgi_call(&mut conn, &FcgiRequest::responder(params, b"")).unwrap();
    };
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_sfpm"))
            .args(["-F", "-R", "-n", "-y"])
            .arg(&conf)
            .env("PHP_INI_SCAN_DIR", "")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    wait_for("ready, in the error log file", DEADLINE, || {
        read(&log).contains("ready to handle connections").then_some(())
    });
    let before = wait_for("two workers", DEADLINE, || {
        let pids = children_of(child.0.id() as i32);
        (pids.len() == 2).then_some(pids)
    });
    call("n=1");
    wait_for("the first access log line", DEADLINE, || {
        (read(&access) == "GET /hello.php?n=1 200\n").then_some(())
    });
    // logrotate moves the files away, then signals.
    let rotated = dir.path("error.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let rotated_access = dir.path("access.log.1");
    std::fs::rename(&access, &rotated_access).unwrap();
    Command::new("kill").args(["-USR1", &child.0.id().to_string()]).status().unwrap();
    wait_for("a new error log file", DEADLINE, || {
        read(&log).contains("error log file re-opened").then_some(())
    });
    wait_for("both workers replaced", DEADLINE, || {
        let pids = children_of(child.0.id() as i32);
        (pids.len() == 2 && pids.iter().all(|p| !before.contains(p))).then_some(())
    });
    assert!(read(&rotated).contains("ready to handle connections"), "the old lines stay in the rotated file");
    call("n=2");
    wait_for("the next access log line, in the new file", DEADLINE, || {
        (read(&access) == "GET /hello.php?n=2 200\n").then_some(())
    });
    assert_eq!(read(&rotated_access), "GET /hello.php?n=1 200\n");
    Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    let status = wait_for("exit", DEADLINE, || child.0.try_wait().ok().flatten());
    assert_eq!(status.code(), Some(0));
    assert!(read(&log).contains("exiting, bye-bye!"));
}

/// Starts `sfpm -F -R -n -y <conf>` with its standard error in `log`.
fn spawn_sfpm(conf: &std::path::Path, log: &std::path::Path) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_sfpm"))
            .args(["-F", "-R", "-n", "-y"])
            .arg(conf)
            .env("PHP_INI_SCAN_DIR", "")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// [`spawn_sfpm`], then waits until it
/// is ready with two workers: the server and its workers' pids.
fn start_two_workers(conf: &std::path::Path, log: &std::path::Path) -> (KillOnDrop, Vec<i32>) {
    let child = spawn_sfpm(conf, log);
    let read = || std::fs::read_to_string(log).unwrap_or_default();
    wait_for("ready", DEADLINE, || read().contains("ready to handle connections").then_some(()));
    let master = child.0.id() as i32;
    let workers = wait_for("two workers", DEADLINE, || {
        let pids = children_of(master);
        (pids.len() == 2).then_some(pids)
    });
    (child, workers)
}

/// A server process killed (with its workers) if the test ends early.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            stop_server(&mut self.0, "sfpm");
        }
    }
}

#[test]
fn sigusr2_reloads_with_the_same_socket_and_pid() {
    use sfpm::client::{self, FcgiRequest, Pair};
    let dir = TempDir::new("usr2");
    let script = dir.path("hello.php");
    std::fs::write(&script, "<?php echo 'hello ', getmypid();").unwrap();
    let log = dir.path("sfpm.log");
    let port = free_port();
    let conf = dir.path("php-fpm.conf");
    std::fs::write(&conf, format!("[www]\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = 2\n"))
        .unwrap();
    let (mut child, before) = start_two_workers(&conf, &log);
    let master = child.0.id() as i32;
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let script = script.display().to_string();
    let params: &[Pair<'_>] = &[(b"REQUEST_METHOD", b"GET"), (b"SCRIPT_FILENAME", script.as_bytes())];
    let addr = Addr::Tcp(format!("127.0.0.1:{port}").parse().unwrap());
    let call = || {
        let mut conn = addr.connect().unwrap();
        client::fcgi_call(&mut conn, &FcgiRequest::responder(params, b"")).unwrap()
    };
    assert!(String::from_utf8_lossy(&call().stdout).contains("hello "));

    Command::new("kill").args(["-USR2", &master.to_string()]).status().unwrap();
    // A connection made during the reload waits in the kept socket's backlog.
    let during = call();
    assert!(String::from_utf8_lossy(&during.stdout).contains("hello "), "served across the reload");
    wait_for("the new image adopts the socket", DEADLINE, || {
        read().contains("using inherited socket fd=").then_some(())
    });
    assert!(read().contains("Reloading in progress ..."), "{}", read());
    let after = wait_for("two new workers", DEADLINE, || {
        let pids = children_of(master);
        (pids.len() == 2 && pids.iter().all(|p| !before.contains(p))).then_some(pids)
    });
    assert!(child.0.try_wait().unwrap().is_none(), "the master keeps its pid");
    let reply = call();
    let pid: i32 = String::from_utf8_lossy(&reply.stdout).rsplit(' ').next().unwrap().trim().parse().unwrap();
    assert!(after.contains(&pid), "a new worker answers");
}

#[test]
fn workers_crashing_past_the_emergency_threshold_reload_the_server() {
    let dir = TempDir::new("emergency");
    let log = dir.path("sfpm.log");
    let port = free_port();
    let conf = dir.path("php-fpm.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nemergency_restart_threshold = 2\nemergency_restart_interval = 1m\n\
             [www]\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = 2\n"
        ),
    )
    .unwrap();
    let (mut child, first) = start_two_workers(&conf, &log);
    let master = child.0.id() as i32;
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    // One crash is below the threshold: only that worker is replaced.
    Command::new("kill").args(["-SEGV", &first[0].to_string()]).status().unwrap();
    let second = wait_for("the crashed worker replaced", DEADLINE, || {
        let pids = children_of(master);
        (pids.len() == 2 && !pids.contains(&first[0])).then_some(pids)
    });
    assert!(!read().contains("threshold"), "{}", read());
    // The second crash within the interval reloads the whole server.
    let survivor = second.iter().copied().find(|p| *p == first[1]).expect("the other worker still runs");
    Command::new("kill").args(["-SEGV", &survivor.to_string()]).status().unwrap();
    wait_for("the reload", DEADLINE, || {
        read()
            .contains("failed processes threshold (2 in 60 sec) is reached, initiating reload")
            .then_some(())
    });
    wait_for("the new image adopts the socket", DEADLINE, || {
        read().contains("using inherited socket fd=").then_some(())
    });
    wait_for("two new workers", DEADLINE, || {
        let pids = children_of(master);
        (pids.len() == 2 && pids.iter().all(|p| !second.contains(p))).then_some(())
    });
    assert!(child.0.try_wait().unwrap().is_none(), "the master keeps its pid");
}

#[test]
fn global_rlimit_files_applies_to_the_master_and_its_workers() {
    let dir = TempDir::new("rlimit");
    let port = free_port();
    let conf = dir.path("php-fpm.conf");
    std::fs::write(
        &conf,
        format!("[global]\nrlimit_files = 900\n[www]\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = 2\n"),
    )
    .unwrap();
    let (child, workers) = start_two_workers(&conf, &dir.path("sfpm.log"));
    let open_files = |pid: i32| {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().to_string();
        line["Max open files".len()..].split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    };
    assert_eq!(open_files(child.0.id() as i32), "900 900");
    assert_eq!(open_files(workers[0]), "900 900", "workers inherit the master's limit");
}

#[test]
fn log_level_warning_keeps_notices_out_of_the_log() {
    let dir = TempDir::new("log-level");
    let log = dir.path("sfpm.log");
    let port = free_port();
    let conf = dir.path("php-fpm.conf");
    std::fs::write(
        &conf,
        format!("[global]\nlog_level = warning\n[www]\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = 1\n"),
    )
    .unwrap();
    let child = spawn_sfpm(&conf, &log);
    let master = child.0.id() as i32;
    let worker = wait_for("a worker", DEADLINE, || children_of(master).first().copied());
    Command::new("kill").args(["-SEGV", &worker.to_string()]).status().unwrap();
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("the crash, logged as a warning", DEADLINE, || {
        read()
            .contains(&format!("WARNING: [pool www] child {worker} exited on signal 11 (SIGSEGV)"))
            .then_some(())
    });
    assert!(!read().contains("NOTICE:"), "{}", read());
}

/// `process.dumpable`: a worker that switched to `nobody` stays dumpable (its /proc files
/// belong to nobody, so its user can trace it and it dumps core); without it the kernel
/// hands them to root. Needs root to switch users; CI runs as root.
#[test]
fn process_dumpable_keeps_workers_dumpable_after_the_user_switch() {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
        eprintln!("switching users needs root: not checked");
        return;
    }
    let nobody = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("nobody:x:").and_then(|r| r.split(':').next()?.parse::<u32>().ok()))
        .expect("a nobody user");
    for (dumpable, owner) in [("yes", nobody), ("no", 0)] {
        let dir = TempDir::new("dumpable");
        let port = free_port();
        let conf = dir.path("php-fpm.conf");
        std::fs::write(
            &conf,
            format!(
                "[www]\nuser = nobody\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = 2\n\
                 process.dumpable = {dumpable}\n"
            ),
        )
        .unwrap();
        let (_child, workers) = start_two_workers(&conf, &dir.path("sfpm.log"));
        let uid = std::fs::metadata(format!("/proc/{}/stat", workers[0])).unwrap().uid();
        assert_eq!(uid, owner, "process.dumpable = {dumpable}");
    }
}

/// systemd's `Type=notify` protocol, as Debian's php-fpm unit expects it: READY=1 once the
/// workers run, a STATUS= line every `systemd_interval`, STOPPING=1 on the way out.
#[test]
fn systemd_is_told_ready_status_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = TempDir::new("systemd");
    let socket_path = dir.path("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let receive = || {
        let mut buf = [0u8; 1024];
        let n = socket.recv(&mut buf).expect("a notification within the deadline");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let port = free_port();
    let conf = dir.path("php-fpm.conf");
    std::fs::write(
        &conf,
        format!("[global]\nsystemd_interval = 1s\n[www]\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = 2\n"),
    )
    .unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_sfpm"))
            .args(["-F", "-R", "-n", "-y"])
            .arg(&conf)
            .env("PHP_INI_SCAN_DIR", "")
            .env("NOTIFY_SOCKET", &socket_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert_eq!(receive(), "READY=1\nSTATUS=Ready to handle connections");
    let status = receive();
    assert!(
        status.starts_with("STATUS=Processes active: 0, idle: 2, Requests: 0, slow: 0, Traffic: "),
        "{status}"
    );
    Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    let last = (0..5).map(|_| receive()).find(|m| !m.starts_with("STATUS=")).unwrap();
    assert_eq!(last, "STOPPING=1");
    wait_for("exit", DEADLINE, || child.0.try_wait().ok().flatten());
}

#[test]
fn process_max_caps_the_workers_and_warns_once() {
    let dir = TempDir::new("process-max");
    let log = dir.path("sfpm.log");
    let port = free_port();
    let conf = dir.path("php-fpm.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nprocess.max = 1\n[www]\nlisten = 127.0.0.1:{port}\npm = static\npm.max_children = 2\n"
        ),
    )
    .unwrap();
    let child = spawn_sfpm(&conf, &log);
    let master = child.0.id() as i32;
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("ready", DEADLINE, || read().contains("ready to handle connections").then_some(()));
    let warning = "WARNING: The maximum number of processes has been reached. \
                   Please review your configuration and consider raising 'process.max'";
    assert_eq!(read().matches(warning).count(), 1, "{}", read());
    assert_eq!(children_of(master).len(), 1);
    // A crashed worker is still replaced, within the cap, without a second warning.
    let worker = children_of(master)[0];
    Command::new("kill").args(["-KILL", &worker.to_string()]).status().unwrap();
    wait_for("the worker replaced", DEADLINE, || {
        let pids = children_of(master);
        (pids.len() == 1 && pids[0] != worker).then_some(())
    });
    assert_eq!(read().matches(warning).count(), 1, "{}", read());
}
