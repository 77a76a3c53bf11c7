//! Which script a request runs, and the CGI variables php-fpm rewrites on the way:
//! php-fpm's `init_request_info()` (sapi/fpm/fpm/fpm_main.c), rebuilt from its observed
//! behaviour (reference/server-vars.md) with owned strings and checked lengths.
//!
//! Pure: the filesystem is asked through [`FileSystem`] (is this a regular file, does
//! `realpath()` succeed), so every case is unit-tested without files. The result is a
//! list of changes to apply on top of the params when `$_SERVER` is built.
//!
//! CVE-2019-11043 came from this very step: php-fpm computed the new `PATH_INFO` as
//! `PATH_INFO + strlen(PATH_INFO) - slen` without checking `strlen(PATH_INFO) > slen`
//! and wrote through the result. Here the tail is `path_info.get(pilen - slen..)` behind
//! a `pilen > slen` check, and nothing is written anywhere but new strings.

use crate::request::Params;

/// What the path walk asks of the filesystem.
pub trait FileSystem {
    /// `stat()` says a regular file.
    fn is_regular_file(&self, path: &[u8]) -> bool;
    /// `realpath()` succeeds (every component exists).
    fn resolves(&self, path: &[u8]) -> bool;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFileSystem;

impl FileSystem for RealFileSystem {
    fn is_regular_file(&self, path: &[u8]) -> bool {
        use std::os::unix::ffi::OsStrExt;
        std::fs::metadata(std::ffi::OsStr::from_bytes(path)).is_ok_and(|m| m.is_file())
    }

    /// `stat()` succeeds exactly when `realpath()` would (every component exists and
    /// symlinks resolve), at one system call instead of one per component.
    fn resolves(&self, path: &[u8]) -> bool {
        use std::os::unix::ffi::OsStrExt;
        std::fs::metadata(std::ffi::OsStr::from_bytes(path)).is_ok()
    }
}

/// The php.ini settings that steer the mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `cgi.fix_pathinfo` (default 1).
    pub fix_pathinfo: bool,
    /// `cgi.discard_path` (default 0).
    pub discard_path: bool,
    /// `doc_root`, used when the web server sends no `DOCUMENT_ROOT`.
    pub doc_root: Option<Vec<u8>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { fix_pathinfo: true, discard_path: false, doc_root: None }
    }
}

/// The outcome for one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestInfo {
    /// The script to run; `None` means 404 `File not found.`.
    pub script: Option<Vec<u8>>,
    /// The script's URI (`SG(request_info).request_uri`): `PHP_SELF`'s start, the status
    /// and ping paths, the access log's `%r`.
    pub request_uri: Option<Vec<u8>>,
    /// `PHP_SELF`.
    pub php_self: Vec<u8>,
    /// Params to set (`Some`) or remove (`None`), in order, on top of the request's.
    pub changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl RequestInfo {
    /// The value of `name` after the changes.
    pub fn get<'a>(&'a self, params: &'a Params, name: &[u8]) -> Option<&'a [u8]> {
        match self.changes.iter().rev().find(|(n, _)| n == name) {
            Some((_, value)) => value.as_deref(),
            None => params.get(name),
        }
    }
}

/// Collects param changes while the mapping runs, and answers lookups through them.
struct Env<'p> {
    params: &'p Params,
    changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        match self.changes.iter().rev().find(|(n, _)| n == name.as_bytes()) {
            Some((_, v)) => v.clone(),
            None => self.params.get(name.as_bytes()).map(<[u8]>::to_vec),
        }
    }

    fn set(&mut self, name: &str, value: &[u8]) {
        self.changes.push((name.as_bytes().to_vec(), Some(value.to_vec())));
    }

    fn unset(&mut self, name: &str) {
        self.changes.push((name.as_bytes().to_vec(), None));
    }
}

/// Maps a request's params to the script and `$_SERVER` changes, as php-fpm does.
pub fn init_request_info(params: &Params, settings: &Settings, fs: &impl FileSystem) -> RequestInfo {
    let mut env = Env { params, changes: Vec::new() };
    let mut script = env.get("SCRIPT_FILENAME").or_else(|| env.get("PATH_TRANSLATED"));
    let mut request_uri = None;
    if let Some(found) = script.take() {
        let (path, uri) = map_script(&mut env, found, settings, fs);
        script = path;
        request_uri = uri;
    }
    // A `..` segment in the script path: refused (404), whatever the walk found.
    if script.as_deref().is_some_and(has_dot_dot_segment) {
        script = None;
    }
    let mut php_self = request_uri.clone().unwrap_or_default();
    if settings.fix_pathinfo {
        php_self.extend_from_slice(&env.get("PATH_INFO").unwrap_or_default());
    }
    RequestInfo { script, request_uri, php_self, changes: env.changes }
}

/// Steps 2 to 7 of `init_request_info()`: returns the script path (None = not found) and
/// the request URI.
fn map_script(
    env: &mut Env<'_>,
    mut script: Vec<u8>,
    settings: &Settings,
    fs: &impl FileSystem,
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let mut path_info = env.get("PATH_INFO");
    let script_name = env.get("SCRIPT_NAME");
    let path_translated = env.get("PATH_TRANSLATED");

    // IIS sends PATH_INFO with SCRIPT_NAME in front of it.
    if let (Some(software), Some(pi), Some(sn)) = (env.get("SERVER_SOFTWARE"), &path_info, &script_name) {
        if software.starts_with(b"Microsoft-IIS") && pi.starts_with(sn) {
            env.set("ORIG_PATH_INFO", pi);
            let rest = pi[sn.len()..].to_vec();
            if rest.is_empty() {
                env.unset("PATH_INFO");
                path_info = None;
            } else {
                env.set("PATH_INFO", &rest);
                path_info = Some(rest);
            }
        }
    }

    // Apache mod_proxy_fcgi: "proxy:fcgi://host:port/path?query" → "/path". php-fpm
    // rewrites the param in place, so the stripped value also counts as the original.
    // Only SCRIPT_FILENAME is looked at, not a PATH_TRANSLATED standing in for it.
    let mut apache = false;
    if env.get("SCRIPT_FILENAME").is_some() {
        if let Some(stripped) = strip_apache_proxy(&script) {
            apache = true;
            env.set("SCRIPT_FILENAME", &stripped);
            script = stripped;
        }
    }
    // php-fpm's `orig_script_filename`: the SCRIPT_FILENAME param (after the strip
    // above), absent when the script came from PATH_TRANSLATED. An absent one is not
    // saved as ORIG_SCRIPT_FILENAME, and SCRIPT_FILENAME is then set to the script.
    let orig_script_filename = env.get("SCRIPT_FILENAME");
    let orig_script_name = script_name.clone();

    if !settings.fix_pathinfo {
        let uri = path_info.or(script_name);
        if !settings.discard_path {
            if let Some(pt) = path_translated {
                script = pt;
            }
        }
        return (Some(script), uri);
    }

    let mut document_root = env.get("DOCUMENT_ROOT");
    if document_root.is_none() {
        if let Some(root) = &settings.doc_root {
            env.set("DOCUMENT_ROOT", root);
            document_root = Some(root.clone());
        }
    }

    // Apache mod_fastcgi with Action: the script is PATH_TRANSLATED, its URI REDIRECT_URL.
    let mut script_name = script_name;
    let redirect = env.get("REDIRECT_URL");
    let mod_fastcgi =
        !apache && path_translated.as_ref().is_some_and(|pt| *pt != script) && redirect.is_some();
    if mod_fastcgi {
        script = path_translated.clone().expect("checked");
        script_name = redirect.clone();
    }

    if script.ends_with(b"/") || !fs.resolves(&script) {
        let names = ScriptNames { orig_script_filename, orig_script_name, script_name };
        return walk_back(env, script, names, path_info, document_root, apache, fs);
    }

    // Resolved directly. Remember originals of what was changed above.
    if orig_script_filename.as_deref() != Some(&script[..]) {
        if let Some(orig) = &orig_script_filename {
            env.set("ORIG_SCRIPT_FILENAME", orig);
        }
        env.set("SCRIPT_FILENAME", &script);
    }
    // php-fpm strips path info whenever REDIRECT_URL is there (not only when the
    // mod_fastcgi hack above replaced the script).
    if !apache && redirect.is_some() {
        if let Some(pi) = &path_info {
            env.set("ORIG_PATH_INFO", pi);
            env.unset("PATH_INFO");
        }
        if let Some(pt) = &path_translated {
            env.set("ORIG_PATH_TRANSLATED", pt);
            env.unset("PATH_TRANSLATED");
        }
    }
    // SCRIPT_NAME becomes REDIRECT_URL, the old one saved (php-fpm does this whenever
    // the hack replaced SCRIPT_NAME, even with an equal value).
    if mod_fastcgi {
        if let Some(sn) = &orig_script_name {
            env.set("ORIG_SCRIPT_NAME", sn);
        }
        if let Some(redirect) = &script_name {
            env.set("SCRIPT_NAME", redirect);
        }
    }
    (Some(script), script_name)
}

/// SCRIPT_FILENAME and SCRIPT_NAME as sent (after the Apache strip) and the script name
/// in use (REDIRECT_URL after the mod_fastcgi hack).
struct ScriptNames {
    orig_script_filename: Option<Vec<u8>>,
    orig_script_name: Option<Vec<u8>>,
    script_name: Option<Vec<u8>>,
}

/// Step 6: the script path does not resolve (or ends in `/`): cut it back at `/` until a
/// prefix is a regular file; what was cut off is path info.
fn walk_back(
    env: &mut Env<'_>,
    script: Vec<u8>,
    names: ScriptNames,
    path_info: Option<Vec<u8>>,
    document_root: Option<Vec<u8>>,
    apache: bool,
    fs: &impl FileSystem,
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    // `script_name` is php-fpm's `env_script_name`: REDIRECT_URL after the mod_fastcgi
    // hack, and cut in place in the Apache case below; PATH_TRANSLATED is built with it.
    let ScriptNames { orig_script_filename, orig_script_name, mut script_name } = names;
    let mut end = script.len();
    let found = loop {
        match script[..end].iter().rposition(|&b| b == b'/' || b == b'\\') {
            Some(cut) => {
                end = cut;
                if fs.is_regular_file(&script[..end]) {
                    break Some(script[..end].to_vec());
                }
            }
            None => break None,
        }
    };
    let Some(pt) = found else {
        if let Some(orig) = &orig_script_filename {
            env.set("ORIG_SCRIPT_FILENAME", orig);
        }
        env.unset("SCRIPT_FILENAME");
        return (None, final_script_name(env, &orig_script_name, script_name));
    };
    let slen = script.len() - pt.len();
    let tail = &script[pt.len()..];

    // The new PATH_INFO, and whether it differs from what the web server sent.
    let (new_path_info, changed) = if apache {
        let new = tail.to_vec();
        let changed = slen != 0 && path_info.as_deref() != Some(&new[..]);
        (Some(new), changed)
    } else {
        // The CVE-2019-11043 fix: a tail only when PATH_INFO is longer than the cut.
        let new = path_info.as_ref().filter(|pi| pi.len() > slen).map(|pi| pi[pi.len() - slen..].to_vec());
        let changed = new.is_some();
        (new, changed)
    };

    let mut request_uri = None;
    if changed {
        let new = new_path_info.clone().expect("changed implies a value");
        if let Some(pi) = &path_info {
            env.set("ORIG_PATH_INFO", pi);
            // SCRIPT_NAME := PATH_INFO before its new tail, compared with the param as
            // sent (not with REDIRECT_URL).
            let head = pi[..pi.len() - new.len().min(pi.len())].to_vec();
            if orig_script_name.as_deref() != Some(&head[..]) {
                if let Some(sn) = &orig_script_name {
                    env.set("ORIG_SCRIPT_NAME", sn);
                }
                env.set("SCRIPT_NAME", &head);
                request_uri = Some(head);
            } else {
                request_uri = orig_script_name.clone();
            }
        } else if apache {
            // No PATH_INFO was sent: the tail is removed from the end of SCRIPT_NAME,
            // compared as sent and URL-decoded.
            if let Some(sn) = &script_name {
                let decoded = url_decode(&new);
                let cut = sn.strip_suffix(&new[..]).or_else(|| sn.strip_suffix(&decoded[..]));
                if let Some(head) = cut {
                    let head = head.to_vec();
                    env.set("ORIG_SCRIPT_NAME", sn);
                    env.set("SCRIPT_NAME", &head);
                    request_uri = Some(head.clone());
                    script_name = Some(head);
                }
            }
        }
        env.set("PATH_INFO", &new);
    }

    if orig_script_filename.as_deref() != Some(&pt[..]) {
        if let Some(orig) = &orig_script_filename {
            env.set("ORIG_SCRIPT_FILENAME", orig);
        }
        env.set("SCRIPT_FILENAME", &pt);
    }

    let current_path_info = env.get("PATH_INFO").unwrap_or_default();
    let translated = match (&document_root, &script_name) {
        (Some(root), _) => {
            let root = root.strip_suffix(b"/").unwrap_or(root);
            Some([root, &current_path_info[..]].concat())
        }
        (None, Some(sn)) if find(&pt, sn).is_some() => {
            let prefix = &pt[..pt.len().saturating_sub(sn.len())];
            Some([prefix, &current_path_info[..]].concat())
        }
        _ => None,
    };
    if let Some(translated) = translated {
        if let Some(old) = env.params.get(b"PATH_TRANSLATED") {
            let old = old.to_vec();
            env.set("ORIG_PATH_TRANSLATED", &old);
        }
        env.set("PATH_TRANSLATED", &translated);
    }
    let request_uri = match request_uri {
        Some(uri) => Some(uri),
        None => final_script_name(env, &orig_script_name, script_name),
    };
    (Some(pt), request_uri)
}

/// The walk's last step when no path info rewrite set the URI: a SCRIPT_NAME replaced
/// by REDIRECT_URL (mod_fastcgi) is stored, the param as sent saved in ORIG_SCRIPT_NAME.
fn final_script_name(
    env: &mut Env<'_>,
    orig: &Option<Vec<u8>>,
    script_name: Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    if orig.is_some() && *orig == script_name {
        return script_name;
    }
    if let Some(orig) = orig {
        env.set("ORIG_SCRIPT_NAME", orig);
    }
    if let Some(sn) = &script_name {
        env.set("SCRIPT_NAME", sn);
    }
    script_name
}

/// `proxy:fcgi://host[:port]/path[?query]` or `proxy:balancer://...` → `/path`.
fn strip_apache_proxy(script: &[u8]) -> Option<Vec<u8>> {
    let lower = script.to_ascii_lowercase();
    let scheme_len =
        [&b"proxy:fcgi://"[..], b"proxy:balancer://"].into_iter().find(|s| lower.starts_with(s))?.len();
    let rest = &script[scheme_len..];
    let path = &rest[rest.iter().position(|&b| b == b'/')?..];
    let path = path.split(|&b| b == b'?').next().unwrap_or(path);
    Some(path.to_vec())
}

/// A `..` path segment: at the start or after `/`, followed by the end or `/`.
fn has_dot_dot_segment(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|segment| segment == b"..")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `%XX` decoding (PHP's `php_raw_url_decode`: `+` stays `+`).
fn url_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) =
                (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A filesystem with `/w` (a directory) and `/w/hello.php` (a file).
    struct Fake;

    impl FileSystem for Fake {
        fn is_regular_file(&self, path: &[u8]) -> bool {
            path == b"/w/hello.php"
        }
        fn resolves(&self, path: &[u8]) -> bool {
            path == b"/w/hello.php" || path == b"/w" || path == b"/w/"
        }
    }

    struct Case {
        params: &'static [(&'static str, &'static str)],
        script_name: Option<&'static str>,
        path_info: Option<&'static str>,
        path_translated: Option<&'static str>,
        php_self: &'static str,
        script_filename: Option<&'static str>,
        orig: &'static [&'static str],
    }

    fn check(case: &Case) {
        let mut params: Params = case.params.iter().copied().collect();
        if !case.params.iter().any(|(n, _)| *n == "DOCUMENT_ROOT") {
            params.push(b"DOCUMENT_ROOT", b"/w");
        }
        let info = init_request_info(&params, &Settings::default(), &Fake);
        let get = |n: &str| info.get(&params, n.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned());
        let ctx = format!("{:?}", case.params);
        assert_eq!(get("SCRIPT_NAME").as_deref(), case.script_name, "SCRIPT_NAME for {ctx}");
        assert_eq!(get("PATH_INFO").as_deref(), case.path_info, "PATH_INFO for {ctx}");
        assert_eq!(get("PATH_TRANSLATED").as_deref(), case.path_translated, "PATH_TRANSLATED for {ctx}");
        assert_eq!(String::from_utf8_lossy(&info.php_self), case.php_self, "PHP_SELF for {ctx}");
        assert_eq!(get("SCRIPT_FILENAME").as_deref(), case.script_filename, "SCRIPT_FILENAME for {ctx}");
        assert_eq!(
            info.script.as_deref().map(|s| String::from_utf8_lossy(s).into_owned()).as_deref(),
            case.script_filename
        );
        for name in ["ORIG_SCRIPT_NAME", "ORIG_SCRIPT_FILENAME", "ORIG_PATH_INFO", "ORIG_PATH_TRANSLATED"] {
            assert_eq!(get(name).is_some(), case.orig.contains(&name), "{name} for {ctx}: {:?}", get(name));
        }
    }

    /// reference/server-vars.md §4: php-fpm 8.2.36 observed, DOCUMENT_ROOT=/w.
    #[test]
    fn observed_php_fpm_mappings() {
        let cases = [
            // nginx with fastcgi_split_path_info
            Case {
                params: &[
                    ("SCRIPT_FILENAME", "/w/hello.php"),
                    ("SCRIPT_NAME", "/hello.php"),
                    ("PATH_INFO", "/foo/bar"),
                ],
                script_name: Some("/hello.php"),
                path_info: Some("/foo/bar"),
                path_translated: None,
                php_self: "/hello.php/foo/bar",
                script_filename: Some("/w/hello.php"),
                orig: &[],
            },
            // no split, no PATH_INFO
            Case {
                params: &[("SCRIPT_FILENAME", "/w/hello.php/foo/bar"), ("SCRIPT_NAME", "/hello.php/foo/bar")],
                script_name: Some("/hello.php/foo/bar"),
                path_info: None,
                path_translated: Some("/w"),
                php_self: "/hello.php/foo/bar",
                script_filename: Some("/w/hello.php"),
                orig: &["ORIG_SCRIPT_FILENAME"],
            },
            // no split, PATH_INFO=/foo/bar
            Case {
                params: &[
                    ("SCRIPT_FILENAME", "/w/hello.php/foo/bar"),
                    ("SCRIPT_NAME", "/hello.php/foo/bar"),
                    ("PATH_INFO", "/foo/bar"),
                ],
                script_name: Some("/hello.php/foo/bar"),
                path_info: Some("/foo/bar"),
                path_translated: Some("/w/foo/bar"),
                php_self: "/hello.php/foo/bar/foo/bar",
                script_filename: Some("/w/hello.php"),
                orig: &["ORIG_SCRIPT_FILENAME"],
            },
            // Apache SetHandler proxy:...|fcgi://localhost
            Case {
                params: &[
                    ("SCRIPT_FILENAME", "proxy:fcgi://localhost/w/hello.php"),
                    ("SCRIPT_NAME", "/hello.php"),
                    ("PATH_INFO", "/foo/bar"),
                    ("PATH_TRANSLATED", "/w/foo/bar"),
                ],
                script_name: Some("/hello.php"),
                path_info: Some("/foo/bar"),
                path_translated: Some("/w/foo/bar"),
                php_self: "/hello.php/foo/bar",
                script_filename: Some("/w/hello.php"),
                orig: &[],
            },
            // Apache ProxyPassMatch
            Case {
                params: &[
                    ("SCRIPT_FILENAME", "proxy:fcgi://localhost:9000/w/hello.php/foo/bar"),
                    ("SCRIPT_NAME", "/hello.php/foo/bar"),
                ],
                script_name: Some("/hello.php"),
                path_info: Some("/foo/bar"),
                path_translated: Some("/w/foo/bar"),
                php_self: "/hello.php/foo/bar",
                script_filename: Some("/w/hello.php"),
                orig: &["ORIG_SCRIPT_NAME", "ORIG_SCRIPT_FILENAME"],
            },
            // Apache proxy, encoded tail
            Case {
                params: &[
                    ("SCRIPT_FILENAME", "proxy:fcgi://localhost/w/hello.php/a%20b"),
                    ("SCRIPT_NAME", "/hello.php/a b"),
                ],
                script_name: Some("/hello.php"),
                path_info: Some("/a%20b"),
                path_translated: Some("/w/a%20b"),
                php_self: "/hello.php/a%20b",
                script_filename: Some("/w/hello.php"),
                orig: &["ORIG_SCRIPT_NAME", "ORIG_SCRIPT_FILENAME"],
            },
            // CVE-2019-11043 shape
            Case {
                params: &[
                    ("SCRIPT_FILENAME", "/w/hello.php/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                    ("PATH_INFO", ""),
                    ("SCRIPT_NAME", "/hello.php/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                ],
                script_name: Some("/hello.php/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                path_info: Some(""),
                path_translated: Some("/w"),
                php_self: "/hello.php/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                script_filename: Some("/w/hello.php"),
                orig: &["ORIG_SCRIPT_FILENAME"],
            },
            // lighttpd broken-scriptfilename
            Case {
                params: &[
                    ("SCRIPT_FILENAME", "/w/hello.php/foo/bar"),
                    ("SCRIPT_NAME", "/hello.php"),
                    ("PATH_INFO", "/foo/bar"),
                ],
                script_name: Some("/hello.php"),
                path_info: Some("/foo/bar"),
                path_translated: Some("/w/foo/bar"),
                php_self: "/hello.php/foo/bar",
                script_filename: Some("/w/hello.php"),
                orig: &["ORIG_SCRIPT_FILENAME"],
            },
            // PATH_TRANSLATED only: the script is PATH_TRANSLATED, and SCRIPT_FILENAME is
            // set to it (php-fpm 8.2.36 observed; no ORIG_SCRIPT_FILENAME, none was sent).
            Case {
                params: &[("PATH_TRANSLATED", "/w/hello.php"), ("SCRIPT_NAME", "/hello.php")],
                script_name: Some("/hello.php"),
                path_info: None,
                path_translated: Some("/w/hello.php"),
                php_self: "/hello.php",
                script_filename: Some("/w/hello.php"),
                orig: &[],
            },
        ];
        for case in &cases {
            check(case);
        }
    }

    /// Apache mod_fastcgi with `Action`: SCRIPT_FILENAME/SCRIPT_NAME name the PHP binary,
    /// PATH_TRANSLATED the script, REDIRECT_URL its URI (php-fpm 8.2.36 observed by
    /// tests/php_differential.rs).
    #[test]
    fn mod_fastcgi_action_takes_the_script_from_path_translated() {
        let params: Params = [
            ("SCRIPT_FILENAME", "/usr/lib/cgi-bin/php"),
            ("SCRIPT_NAME", "/cgi-bin/php"),
            ("PATH_INFO", "/hello.php"),
            ("PATH_TRANSLATED", "/w/hello.php"),
            ("REDIRECT_URL", "/hello.php"),
            ("DOCUMENT_ROOT", "/w"),
        ]
        .into_iter()
        .collect();
        let info = init_request_info(&params, &Settings::default(), &Fake);
        let get = |n: &str| info.get(&params, n.as_bytes());
        assert_eq!(info.script.as_deref(), Some(&b"/w/hello.php"[..]));
        assert_eq!(get("SCRIPT_FILENAME"), Some(&b"/w/hello.php"[..]));
        assert_eq!(get("ORIG_SCRIPT_FILENAME"), Some(&b"/usr/lib/cgi-bin/php"[..]));
        assert_eq!(get("SCRIPT_NAME"), Some(&b"/hello.php"[..]));
        assert_eq!(get("ORIG_SCRIPT_NAME"), Some(&b"/cgi-bin/php"[..]));
        assert_eq!((get("PATH_INFO"), get("ORIG_PATH_INFO")), (None, Some(&b"/hello.php"[..])));
        assert_eq!((get("PATH_TRANSLATED"), get("ORIG_PATH_TRANSLATED")), (None, Some(&b"/w/hello.php"[..])));
        assert_eq!(info.request_uri.as_deref(), Some(&b"/hello.php"[..]));
        assert_eq!(info.php_self, b"/hello.php");
    }

    #[test]
    fn a_dot_dot_segment_is_not_found() {
        let params: Params =
            [("SCRIPT_FILENAME", "/w/../w/hello.php"), ("DOCUMENT_ROOT", "/w")].into_iter().collect();
        let info = init_request_info(&params, &Settings::default(), &Fake);
        assert_eq!(info.script, None);
        assert!(has_dot_dot_segment(b".."));
        assert!(has_dot_dot_segment(b"/a/../b"));
        assert!(!has_dot_dot_segment(b"/a/..b/c"));
        assert!(!has_dot_dot_segment(b"/a/b.."));
    }

    #[test]
    fn a_missing_script_is_not_found_and_remembered() {
        let params: Params =
            [("SCRIPT_FILENAME", "/nope/x.php"), ("DOCUMENT_ROOT", "/w")].into_iter().collect();
        let info = init_request_info(&params, &Settings::default(), &Fake);
        assert_eq!(info.script, None);
        assert_eq!(info.get(&params, b"SCRIPT_FILENAME"), None);
        assert_eq!(info.get(&params, b"ORIG_SCRIPT_FILENAME"), Some(&b"/nope/x.php"[..]));
        let none: Params = [("REQUEST_METHOD", "GET")].into_iter().collect();
        assert_eq!(init_request_info(&none, &Settings::default(), &Fake).script, None);
    }

    #[test]
    fn fix_pathinfo_off_takes_paths_as_sent() {
        let settings = Settings { fix_pathinfo: false, ..Settings::default() };
        let params: Params =
            [("SCRIPT_FILENAME", "/w/hello.php"), ("SCRIPT_NAME", "/hello.php"), ("PATH_INFO", "/p")]
                .into_iter()
                .collect();
        let info = init_request_info(&params, &settings, &Fake);
        assert_eq!(info.script.as_deref(), Some(&b"/w/hello.php"[..]));
        assert_eq!(info.request_uri.as_deref(), Some(&b"/p"[..]));
        assert_eq!(info.php_self, b"/p");
    }

    #[test]
    fn cve_2019_11043_shapes_never_underflow() {
        // Every combination of a long cut-off tail and a short PATH_INFO.
        for n in 0..64 {
            let tail = "A".repeat(n);
            for pi in ["", "/", "/A", "/AAAA"] {
                let sf = format!("/w/hello.php/{tail}");
                let params: Params =
                    [("SCRIPT_FILENAME", sf.as_str()), ("PATH_INFO", pi), ("DOCUMENT_ROOT", "/w")]
                        .into_iter()
                        .collect();
                let info = init_request_info(&params, &Settings::default(), &Fake);
                assert_eq!(info.script.as_deref(), Some(&b"/w/hello.php"[..]));
                let got = info.get(&params, b"PATH_INFO").unwrap_or_default();
                assert!(pi.as_bytes().ends_with(got), "PATH_INFO {got:?} must be a tail of {pi:?}");
            }
        }
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode(b"/a%20b%2"), b"/a b%2");
        assert_eq!(url_decode(b"%41+%zz"), b"A+%zz");
    }
}
