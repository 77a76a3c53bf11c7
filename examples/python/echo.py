#!/usr/bin/env python3
"""A pre-forked FastCGI + SCGI echo server on libsfpm through ctypes (stdlib only).

    SFPM_LIB=target/debug/libsfpm.so python3 examples/python/echo.py [listen] [workers] [KEY=VALUE ...]
    python3 examples/python/echo.py --lib target/debug/libsfpm.so [listen] [workers] [KEY=VALUE ...]

listen defaults to 127.0.0.1:9000 (or a Unix socket path), workers to 2; KEY=VALUE
sets any php-fpm pool directive (listen.allowed_clients=127.0.0.1). Without
SFPM_LIB or --lib, the installed libsfpm.so.0 is loaded. Every request is answered
exactly as examples/echo.rs and examples/c/echo.c do (callback style: sfpm calls
handle() for each request). A parameter ECHO_SLEEP_MS=n makes it wait n ms first.
Stop it with SIGTERM or SIGINT (at once) or SIGQUIT (after the requests in flight).
"""

import ctypes
import os
import sys
import time
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint, c_uint8, c_uint16, c_uint32, c_void_p

SFPM_ABI_VERSION = 1  # the header's SFPM_ABI_VERSION this file is written against
SFPM_OK = 0
SFPM_ERR_STOPPED = 11
SFPM_PROTOCOL_FASTCGI = 1
ROLES = {1: b"RESPONDER", 2: b"AUTHORIZER", 3: b"FILTER"}

# The callback types of struct sfpm_handler; request and worker handles are opaque.
MASTER_INIT = ctypes.CFUNCTYPE(c_int, c_void_p)
WORKER_INIT = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)
HANDLE = ctypes.CFUNCTYPE(c_uint32, c_void_p, c_void_p)
WORKER_MAIN = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)
EXIT = ctypes.CFUNCTYPE(None, c_void_p)


class Handler(ctypes.Structure):
    """struct sfpm_handler; fields left unset are NULL."""

    _fields_ = [
        ("abi_version", c_uint32),
        ("userdata", c_void_p),
        ("master_init", MASTER_INIT),
        ("worker_init", WORKER_INIT),
        ("handle", HANDLE),
        ("worker_main", WORKER_MAIN),
        ("worker_exit", EXIT),
        ("master_exit", EXIT),
    ]


def load(path):
    """Opens libsfpm and declares the functions used here."""
    lib = ctypes.CDLL(path)
    bytes_out = [POINTER(POINTER(c_uint8)), POINTER(c_size_t)]
    signatures = {
        "sfpm_abi_version": (c_uint32, []),
        "sfpm_result_message": (c_char_p, [c_uint]),
        "sfpm_config_new": (c_uint32, [POINTER(c_void_p)]),
        "sfpm_config_set": (c_uint32, [c_void_p, c_char_p, c_char_p]),
        "sfpm_config_error": (c_uint32, [c_void_p, POINTER(c_char_p), POINTER(c_size_t)]),
        "sfpm_config_free": (None, [c_void_p]),
        "sfpm_run": (c_uint32, [c_void_p, POINTER(Handler)]),
        "sfpm_request_role": (c_uint16, [c_void_p]),
        "sfpm_request_protocol": (c_uint32, [c_void_p]),
        "sfpm_request_param": (c_uint32, [c_void_p, c_char_p, c_size_t] + bytes_out),
        "sfpm_request_param_count": (c_size_t, [c_void_p]),
        "sfpm_request_param_at": (c_uint32, [c_void_p, c_size_t] + bytes_out + bytes_out),
        "sfpm_request_read_stdin": (c_uint32, [c_void_p, c_void_p, c_size_t, POINTER(c_size_t)]),
        "sfpm_request_read_data": (c_uint32, [c_void_p, c_void_p, c_size_t, POINTER(c_size_t)]),
        "sfpm_request_write_stdout": (c_uint32, [c_void_p, c_char_p, c_size_t]),
        "sfpm_request_peer": (c_uint32, [c_void_p] + bytes_out),
        "sfpm_request_pool": (c_uint32, [c_void_p] + bytes_out),
    }
    for name, (restype, argtypes) in signatures.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


def string_of(ptr, length):
    """The bytes of a (pointer, length) pair returned by libsfpm."""
    return ctypes.string_at(ptr, length.value) if length.value else b""


class Echo:
    def __init__(self, lib):
        self.lib = lib
        self.chunk = ctypes.create_string_buffer(8192)

    def read_all(self, request, read):
        """Reads a body stream to its end, or to the first error (as an aborted request ends)."""
        parts = []
        n = c_size_t()
        while read(request, self.chunk, len(self.chunk), byref(n)) == SFPM_OK and n.value > 0:
            parts.append(self.chunk.raw[: n.value])
        return b"".join(parts)

    def text(self, getter, request):
        ptr, length = POINTER(c_uint8)(), c_size_t()
        return string_of(ptr, length) if getter(request, byref(ptr), byref(length)) == SFPM_OK else b""

    def sleep_if_asked(self, request):
        name = b"ECHO_SLEEP_MS"
        ptr, length = POINTER(c_uint8)(), c_size_t()
        if self.lib.sfpm_request_param(request, name, len(name), byref(ptr), byref(length)) != SFPM_OK:
            return
        value = string_of(ptr, length)
        if value.isdigit():
            time.sleep(int(value) / 1000)

    def handle(self, userdata, request):
        lib = self.lib
        role = lib.sfpm_request_role(request)
        self.sleep_if_asked(request)
        body = self.read_all(request, lib.sfpm_request_read_stdin)
        data = self.read_all(request, lib.sfpm_request_read_data) if role == 3 else None
        protocol = b"fastcgi" if lib.sfpm_request_protocol(request) == SFPM_PROTOCOL_FASTCGI else b"scgi"
        out = [
            b"Status: 200 OK\r\nContent-Type: text/plain\r\nX-Worker-Pid: %d\r\n\r\n" % os.getpid(),
            b"role=%s\nprotocol=%s\n" % (ROLES.get(role, b"UNKNOWN"), protocol),
            b"pool=%s\npeer=%s\n" % (self.text(lib.sfpm_request_pool, request), self.text(lib.sfpm_request_peer, request)),
        ]
        name, name_len = POINTER(c_uint8)(), c_size_t()
        value, value_len = POINTER(c_uint8)(), c_size_t()
        for i in range(lib.sfpm_request_param_count(request)):
            if lib.sfpm_request_param_at(request, i, byref(name), byref(name_len), byref(value), byref(value_len)) == SFPM_OK:
                out.append(string_of(name, name_len) + b"=" + string_of(value, value_len) + b"\n")
        out.append(b"stdin=%d:%s\n" % (len(body), body))
        if data is not None:
            out.append(b"data=%d:%s\n" % (len(data), data))
        response = b"".join(out)
        # A failed write means the web server went away: nothing more to do.
        lib.sfpm_request_write_stdout(request, response, len(response))
        return 0


def main(argv):
    args = argv[1:]
    path = os.environ.get("SFPM_LIB", "libsfpm.so.0")
    if args[:1] == ["--lib"] and len(args) > 1:
        path, args = args[1], args[2:]
    listen = args[0] if len(args) > 0 else "127.0.0.1:9000"
    workers = args[1] if len(args) > 1 else "2"

    lib = load(path)
    if lib.sfpm_abi_version() != SFPM_ABI_VERSION:
        sys.exit("echo.py: written for sfpm ABI %d, %s has ABI %d" % (SFPM_ABI_VERSION, path, lib.sfpm_abi_version()))
    config = c_void_p()
    if lib.sfpm_config_new(byref(config)) != SFPM_OK:
        sys.exit("echo.py: sfpm_config_new failed")
    settings = [("listen", listen), ("pm.max_children", workers)]
    settings += [tuple(arg.split("=", 1)) for arg in args[2:] if "=" in arg]
    for key, value in settings:
        if lib.sfpm_config_set(config, key.encode(), value.encode()) != SFPM_OK:
            why, length = c_char_p(), c_size_t()
            lib.sfpm_config_error(config, byref(why), byref(length))
            print("echo.py: %s" % why.value.decode(), file=sys.stderr)
            sys.exit(2)

    echo = Echo(lib)
    handler = Handler(abi_version=SFPM_ABI_VERSION, handle=HANDLE(echo.handle))
    sys.stdout.flush()
    sys.stderr.flush()  # workers exit with exit(3): nothing buffered may be written twice
    result = lib.sfpm_run(config, byref(handler))
    lib.sfpm_config_free(config)
    if result != SFPM_OK:
        sys.exit("echo.py: %s" % lib.sfpm_result_message(result).decode())


if __name__ == "__main__":
    main(sys.argv)
