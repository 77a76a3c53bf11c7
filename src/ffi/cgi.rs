//! `sfpm_request_cgi`: what a CGI-style interpreter (the PHP SAPI) needs to run a
//! request the way php-fpm does — the script, its URI, and the `$_SERVER` variables
//! after php-fpm's rewrites (`crate::php::request_info`) — decided here, in Rust, so the
//! C shim only renders it.

use super::handle;
use super::request::sfpm_request;
use super::result::sfpm_result;
use super::server::WorkerHandle;
use crate::master::scoreboard::now_us;
use crate::php::request_info::{self, RealFileSystem, Settings};
use crate::request::Request;
use crate::status_page;
use crate::worker::PoolView;
use std::ffi::{CStr, CString, c_char};

/// The php.ini settings that steer the mapping (php-fpm's `cgi.*` and `doc_root`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sfpm_cgi_settings {
    /// `cgi.fix_pathinfo`.
    pub fix_pathinfo: bool,
    /// `cgi.discard_path`.
    pub discard_path: bool,
    /// `doc_root`, NUL-terminated, or NULL when unset.
    pub doc_root: *const c_char,
}

/// What to do with the request.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sfpm_cgi_action {
    /// Run `script`.
    SFPM_CGI_RUN = 0,
    /// No script: answer 404 "File not found." (php-fpm: "Primary script unknown").
    SFPM_CGI_NOT_FOUND = 1,
    /// The script's extension is not in `security.limit_extensions`: 403 "Access denied.".
    SFPM_CGI_ACCESS_DENIED = 2,
    /// The pool's ping page (`ping.path`): answer `response[response_len]` as
    /// `content_type`, never cached.
    SFPM_CGI_PING = 3,
    /// The pool's status page (`pm.status_path`): the same, with php-fpm's header order
    /// (the content type after the cache headers).
    SFPM_CGI_STATUS = 4,
}

/// One `$_SERVER` variable. `name[name_len]` and `value[value_len]` are NUL bytes, so
/// both can also be used as C strings (a value with a NUL inside is cut there).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sfpm_cgi_var {
    /// The name's bytes.
    pub name: *const u8,
    /// The name's length, without the NUL.
    pub name_len: usize,
    /// The value's bytes.
    pub value: *const u8,
    /// The value's length, without the NUL.
    pub value_len: usize,
}

/// A request as a CGI interpreter runs it. Every pointer is owned by the request and
/// valid until it ends.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sfpm_cgi {
    /// What to do.
    pub action: sfpm_cgi_action,
    /// The script to run (`SFPM_CGI_RUN`) or refused (`SFPM_CGI_ACCESS_DENIED`, for the
    /// message naming it), NUL-terminated; NULL for `SFPM_CGI_NOT_FOUND`.
    pub script: *const c_char,
    /// The script's URI (`SCRIPT_NAME` after rewrites), NUL-terminated, or NULL.
    pub request_uri: *const c_char,
    /// `$_SERVER`'s variables in php-fpm's order: the params with php-fpm's rewrites
    /// (`SCRIPT_FILENAME`, `PATH_INFO`, `ORIG_*`, ...) and `FCGI_ROLE`, newest name first,
    /// then `PHP_SELF`.
    pub vars: *const sfpm_cgi_var,
    /// How many `vars` there are.
    pub var_count: usize,
    /// The request's `PHP_VALUE` param as INI text (a newline added), or NULL: settings
    /// to apply at user level for this request only. php-fpm writes them into the
    /// worker's ini for good, so they leak into every later request; sfpm scopes them.
    pub php_value: *const c_char,
    /// The same for `PHP_ADMIN_VALUE`, applied at system level.
    pub php_admin_value: *const c_char,
    /// For `SFPM_CGI_PING` and `SFPM_CGI_STATUS`: the `Content-Type` value,
    /// NUL-terminated; else NULL.
    pub content_type: *const c_char,
    /// For `SFPM_CGI_PING` and `SFPM_CGI_STATUS`: the body (`response_len` bytes); else
    /// NULL.
    pub response: *const u8,
    /// Its length.
    pub response_len: usize,
}

/// The strings behind an `sfpm_cgi`, kept by the worker handle until the next request.
#[derive(Debug, Default)]
pub struct CgiStore {
    bytes: Vec<u8>,
    vars: Vec<sfpm_cgi_var>,
    script: Option<CString>,
    request_uri: Option<CString>,
    php_value: Option<CString>,
    php_admin_value: Option<CString>,
    page: Option<OwnPage>,
}

/// One of the pool's own pages, rendered.
#[derive(Debug)]
struct OwnPage {
    action: sfpm_cgi_action,
    content_type: &'static CStr,
    body: Vec<u8>,
}

/// A per-request INI param as the text php-fpm parses: the value and a newline. A value
/// with a NUL byte is dropped: C would see less than was sent.
fn ini_text(value: Option<&[u8]>) -> Option<CString> {
    value.filter(|v| !v.is_empty()).and_then(|v| CString::new([v, b"\n"].concat()).ok())
}

/// What the CGI view needs of the pool's configuration.
#[derive(Debug, Clone, Default)]
pub struct Pool {
    /// `security.limit_extensions`.
    pub limit_extensions: Vec<String>,
    /// `ping.path` and `ping.response`, when a ping page is configured.
    pub ping: Option<(String, String)>,
    /// `pm.status_path`, when a status page is configured.
    pub status_path: Option<String>,
}

impl Pool {
    /// From a pool's configuration (`ping.response` defaults to `pong`).
    pub fn of(config: &crate::config::PoolConfig) -> Pool {
        Pool {
            limit_extensions: config.security_limit_extensions.clone(),
            ping: config
                .ping_path
                .clone()
                .map(|path| (path, config.ping_response.clone().unwrap_or_else(|| "pong".to_string()))),
            status_path: config.status_path.clone(),
        }
    }
}

/// Sets `name` in place when present, else appends it.
fn set_entry<'a>(entries: &mut Vec<(&'a [u8], &'a [u8])>, name: &'a [u8], value: &'a [u8]) {
    match entries.iter_mut().find(|(n, _)| *n == name) {
        Some(entry) => entry.1 = value,
        None => entries.push((name, value)),
    }
}

/// `security.limit_extensions`: the path must end with a listed suffix and be longer
/// than it (`.php` alone is no script). Case-sensitive, as php-fpm.
fn extension_allowed(script: &[u8], allowed: &[impl AsRef<str>]) -> bool {
    allowed.is_empty()
        || allowed
            .iter()
            .map(AsRef::as_ref)
            .any(|ext| script.len() > ext.len() && script.ends_with(ext.as_bytes()))
}

impl CgiStore {
    /// Computes the CGI view of `request`; the returned struct points into `self`.
    /// Publishes the resolved script to `view` (the status page shows it) and reads the
    /// pool's status from it when the status page is asked for.
    fn build(
        &mut self,
        request: &Request<'_>,
        settings: &Settings,
        pool: &Pool,
        view: &PoolView<'_>,
    ) -> sfpm_cgi {
        let params = request.params();
        let info = request_info::init_request_info(params, settings, &RealFileSystem);

        // FCGI_ROLE first (php-fpm sets it before reading the params), then the params:
        // a repeated name keeps its first place and its last value; then the rewrites.
        let mut entries: Vec<(&[u8], &[u8])> = vec![(b"FCGI_ROLE", request.role().name().as_bytes())];
        for (name, value) in params.iter() {
            set_entry(&mut entries, name, value);
        }
        for (name, value) in &info.changes {
            match value {
                Some(value) => set_entry(&mut entries, name, value),
                None => entries.retain(|(n, _)| *n != &name[..]),
            }
        }
        // php-fpm keeps params in a hash whose list is walked newest first: a new name
        // goes to the front, a replaced value keeps its place, a removed name is skipped
        // (main/fastcgi.c, fcgi_hash_set/fcgi_hash_del/fcgi_loadenv). So $_SERVER and
        // getallheaders() list the names in reverse order of first appearance, FCGI_ROLE
        // last and rewrites such as ORIG_SCRIPT_FILENAME first.
        entries.reverse();
        entries.push((b"PHP_SELF", &info.php_self));

        self.bytes.clear();
        let mut offsets = Vec::with_capacity(entries.len());
        for (name, value) in &entries {
            let name_at = self.bytes.len();
            self.bytes.extend_from_slice(name);
            self.bytes.push(0);
            let value_at = self.bytes.len();
            self.bytes.extend_from_slice(value);
            self.bytes.push(0);
            offsets.push((name_at, name.len(), value_at, value.len()));
        }
        // Pointers are taken once `bytes` is complete and will not move again.
        let base = self.bytes.as_ptr();
        self.vars = offsets
            .into_iter()
            .map(|(n, nl, v, vl)| sfpm_cgi_var {
                name: base.wrapping_add(n),
                name_len: nl,
                value: base.wrapping_add(v),
                value_len: vl,
            })
            .collect();

        // A NUL inside a path would make C see a different file than we checked.
        self.php_value = ini_text(params.get(b"PHP_VALUE"));
        self.php_admin_value = ini_text(params.get(b"PHP_ADMIN_VALUE"));
        self.script = info.script.and_then(|s| CString::new(s).ok());
        self.request_uri = info.request_uri.and_then(|s| CString::new(s).ok());
        view.report_script(
            self.script.as_ref().map_or(&[], |s| s.as_bytes()),
            self.request_uri.as_ref().map_or(&[], |s| s.as_bytes()),
        );
        self.page = self.own_page(params, pool, view);
        let action = match (&self.page, &self.script) {
            (Some(page), _) => page.action,
            (None, None) => sfpm_cgi_action::SFPM_CGI_NOT_FOUND,
            (None, Some(s)) if !extension_allowed(s.as_bytes(), &pool.limit_extensions) => {
                sfpm_cgi_action::SFPM_CGI_ACCESS_DENIED
            }
            (None, Some(_)) => sfpm_cgi_action::SFPM_CGI_RUN,
        };
        sfpm_cgi {
            action,
            script: match action {
                sfpm_cgi_action::SFPM_CGI_NOT_FOUND => std::ptr::null(),
                _ => self.script.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            },
            request_uri: self.request_uri.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            vars: self.vars.as_ptr(),
            var_count: self.vars.len(),
            php_value: self.php_value.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            php_admin_value: self.php_admin_value.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            content_type: self.page.as_ref().map_or(std::ptr::null(), |p| p.content_type.as_ptr()),
            response: self.page.as_ref().map_or(std::ptr::null(), |p| p.body.as_ptr()),
            response_len: self.page.as_ref().map_or(0, |p| p.body.len()),
        }
    }

    /// php-fpm's ping and status pages: the script's URI equals the configured path
    /// exactly (ping checked first), and a script path was sent (any value: the file need
    /// not exist). Checked before the 404 and 403 answers.
    fn own_page(&self, params: &crate::request::Params, pool: &Pool, view: &PoolView<'_>) -> Option<OwnPage> {
        params.get(b"SCRIPT_FILENAME").or_else(|| params.get(b"PATH_TRANSLATED"))?;
        let uri = self.request_uri.as_ref()?.as_bytes();
        if let Some((_, response)) = pool.ping.as_ref().filter(|(path, _)| path.as_bytes() == uri) {
            let body = response.clone().into_bytes();
            return Some(OwnPage {
                action: sfpm_cgi_action::SFPM_CGI_PING,
                content_type: c"text/plain",
                body,
            });
        }
        pool.status_path.as_ref().filter(|path| path.as_bytes() == uri)?;
        let (format, full) = status_page::parse_query(params.get(b"QUERY_STRING").unwrap_or_default());
        let page = status_page::render(&view.status(), now_us(), format, full, &crate::log::clf_date);
        Some(OwnPage {
            action: sfpm_cgi_action::SFPM_CGI_STATUS,
            content_type: page.content_type,
            body: page.body.into_bytes(),
        })
    }
}

/// Computes how a CGI interpreter runs the open request, as php-fpm does: which script
/// (`cgi.fix_pathinfo` path walking, Apache `proxy:fcgi://` forms, no `..` segments,
/// `security.limit_extensions`), its URI, and the `$_SERVER` variables.
///
/// On `SFPM_OK`, writes `*out`; everything it points to is owned by the request and
/// valid until the request ends. Returns `SFPM_ERR_INVALID_ARG` if a pointer is NULL or
/// no request is open. May `stat()` files along the script path.
#[unsafe(no_mangle)]
pub extern "C" fn sfpm_request_cgi(
    request: *mut sfpm_request,
    settings: *const sfpm_cgi_settings,
    out: *mut sfpm_cgi,
) -> sfpm_result {
    ffi_panic_boundary! {
        let settings = *try_arg!(handle::c_struct(settings));
        let out = try_arg!(handle::out(out));
        let doc_root = try_arg!(optional_c_str(settings.doc_root));
        let settings = Settings {
            fix_pathinfo: settings.fix_pathinfo,
            discard_path: settings.discard_path,
            doc_root: doc_root.filter(|d| !d.is_empty()).map(|d| d.to_bytes().to_vec()),
        };
        let handle: &mut WorkerHandle<'_> = try_arg!(handle::lent(request));
        let (pool, request, store, view) = try_arg!(handle.cgi_parts());
        out.write(store.build(&request, &settings, &pool, &view));
        sfpm_result::SFPM_OK
    }
}

/// NULL is `Some(None)`; a string is `Some(Some(..))`.
fn optional_c_str<'a>(ptr: *const c_char) -> Option<Option<&'a CStr>> {
    if ptr.is_null() { Some(None) } else { handle::c_str(ptr).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// php-fpm's default `security.limit_extensions`.
    const LIMIT_EXTENSIONS: &[&str] = &[".php", ".phar"];

    #[test]
    fn limit_extensions_as_php_fpm() {
        assert!(extension_allowed(b"/w/x.php", LIMIT_EXTENSIONS));
        assert!(extension_allowed(b"/w/x.phar", LIMIT_EXTENSIONS));
        assert!(!extension_allowed(b"/w/x.PHP", LIMIT_EXTENSIONS), "case-sensitive");
        assert!(!extension_allowed(b".php", LIMIT_EXTENSIONS), "the suffix alone is no script");
        assert!(!extension_allowed(b"/w/x.txt", LIMIT_EXTENSIONS));
        assert!(extension_allowed(b"/w/x.txt", &[] as &[&str]), "an empty list allows everything");
    }
}
