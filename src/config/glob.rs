//! `include = PATTERN`: the files a glob pattern names, as php-fpm's call
//! `glob(pattern, GLOB_ERR | GLOB_MARK)` finds them with glibc.
//!
//! `*`, `?` and `[…]` (with `!`/`^` negation and ranges) match within one path component;
//! a leading `.` is only matched by a literal `.`; `\` escapes the next character; there
//! is no `{a,b}` and no `**`. Matches come back sorted byte-wise (glibc sorts with
//! `strcoll`, and php-fpm runs in the C collation). Directories are left out, as php-fpm
//! skips the names `GLOB_MARK` ends with `/`. A directory that cannot be read is an error
//! (`GLOB_ERR`), except while looking for a component that has no wildcard.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why a pattern yields nothing; php-fpm's `glob()` return codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobError {
    /// `GLOB_NOMATCH` (3): a warning in php-fpm, the include is skipped.
    NoMatch,
    /// `GLOB_ABORTED` (2): a directory could not be read; fatal in php-fpm.
    Aborted,
}

impl GlobError {
    /// glibc's return value, which php-fpm prints as `ret=%d`.
    pub fn code(self) -> i32 {
        match self {
            GlobError::Aborted => 2,
            GlobError::NoMatch => 3,
        }
    }
}

/// The regular files (and other non-directories) `pattern` names, sorted.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, GlobError> {
    let absolute = pattern.starts_with('/');
    let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    let mut found: Vec<PathBuf> = vec![PathBuf::from(if absolute { "/" } else { "" })];
    let mut seen_magic = false;
    for (i, component) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        let mut next = Vec::new();
        if !has_magic(component) && !seen_magic && !last {
            // glibc opens the literal directory part as given: no look-up, so a missing
            // directory before the first wildcard is an unreadable one (GLOB_ABORTED).
            found = found.iter().map(|base| base.join(unescape(component))).collect();
            continue;
        }
        for base in &found {
            if !has_magic(component) {
                let path = base.join(unescape(component));
                // After a wildcard, a component without one is looked up, not listed.
                if fs::symlink_metadata(&path).is_ok() && (last || path.is_dir()) {
                    next.push(path);
                }
                continue;
            }
            seen_magic = true;
            let dir = if base.as_os_str().is_empty() { Path::new(".") } else { base.as_path() };
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => continue,
                Err(_) => return Err(GlobError::Aborted),
            };
            let mut names: Vec<Vec<u8>> = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|_| GlobError::Aborted)?;
                let name = entry.file_name();
                if matches(component.as_bytes(), name.as_bytes()) {
                    names.push(name.as_bytes().to_vec());
                }
            }
            names.sort();
            for name in names {
                let path = base.join(OsStr::from_bytes(&name));
                if last || path.is_dir() {
                    next.push(path);
                }
            }
        }
        found = next;
        if found.is_empty() {
            return Err(GlobError::NoMatch);
        }
    }
    if components.is_empty() {
        return Err(GlobError::NoMatch);
    }
    let files: Vec<PathBuf> = found.into_iter().filter(|p| !p.is_dir()).collect();
    Ok(files)
}

fn has_magic(component: &str) -> bool {
    let b = component.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

fn unescape(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    let mut chars = component.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `fnmatch(pattern, name, FNM_PERIOD)` for one component.
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pattern.first() != Some(&b'.') {
        return false;
    }
    match_from(pattern, name)
}

fn match_from(p: &[u8], n: &[u8]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, name index).
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some(b'*') => {
                star = Some((pi + 1, ni));
                pi += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(b'[') => match class(&p[pi..], n[ni]) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                // An unclosed `[` is an ordinary character.
                None => (n[ni] == b'[').then_some(1),
            },
            Some(b'\\') if pi + 1 < p.len() => (p[pi + 1] == n[ni]).then_some(2),
            Some(&c) => (c == n[ni]).then_some(1),
            None => None,
        };
        match step {
            Some(len) => {
                pi += len;
                ni += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    pi = sp;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the bracket expression at the start of `p`: `(matched, length of
/// the expression)`, or `None` if it is not closed.
fn class(p: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some(b'!' | b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == b']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if p.get(i + 1) == Some(&b'-') && p.get(i + 2).is_some_and(|&hi| hi != b']') {
            let hi = p[i + 2];
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn fnmatch_rules() {
        let cases: &[(&str, &str, bool)] = &[
            ("*.conf", "www.conf", true),
            ("*.conf", "www.conf.bak", false),
            ("*.conf", ".hidden.conf", false),
            (".*", ".hidden", true),
            ("w?w.conf", "www.conf", true),
            ("[a-c]*", "b1", true),
            ("[!a-c]*", "b1", false),
            ("[^a]x", "bx", true),
            ("[]]", "]", true),
            ("[a", "[a", true),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*", "", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
        ];
        for (p, n, expected) in cases {
            assert_eq!(matches(p.as_bytes(), n.as_bytes()), *expected, "{p} vs {n}");
        }
    }

    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("sfpm-glob-{}-{n}", std::process::id()));
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn expands_sorted_files_only() {
        let t = TempDir::new();
        for name in ["b.conf", "a.conf", "c.txt", ".h.conf"] {
            fs::write(t.0.join(name), "").unwrap();
        }
        fs::create_dir(t.0.join("d.conf")).unwrap();
        fs::create_dir(t.0.join("sub")).unwrap();
        fs::write(t.0.join("sub/x.conf"), "").unwrap();
        let root = t.0.to_string_lossy().into_owned();
        let names = |p: &str| -> Result<Vec<String>, GlobError> {
            expand(p).map(|v| v.iter().map(|f| f.strip_prefix(&t.0).unwrap().display().to_string()).collect())
        };
        assert_eq!(names(&format!("{root}/*.conf")), Ok(vec!["a.conf".into(), "b.conf".into()]));
        assert_eq!(names(&format!("{root}/*/*.conf")), Ok(vec!["sub/x.conf".into()]));
        assert_eq!(names(&format!("{root}/c.txt")), Ok(vec!["c.txt".into()]));
        assert_eq!(names(&format!("{root}/none*.conf")), Err(GlobError::NoMatch));
        assert_eq!(names(&format!("{root}/missing.conf")), Err(GlobError::NoMatch));
        assert_eq!(names(&format!("{root}/d.conf")), Ok(vec![]), "a directory is skipped");
        assert_eq!(names(&format!("{root}/nodir/*.conf")), Err(GlobError::Aborted));
        assert_eq!(names(&format!("{root}/*/nodir/*.conf")), Err(GlobError::NoMatch));
        assert_eq!(names(&format!("{root}/nodir/x.conf")), Err(GlobError::NoMatch));
    }
}
