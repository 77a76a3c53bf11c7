#!/usr/bin/env bash
# Hello-world requests/s behind nginx: sfpm and Debian's php-fpm8.2 side by side, same
# machine, same nginx config, same PHP settings (php.ini ignored, opcache on), same
# number of workers, driven by wrk over loopback. Prints each run and the ratio.
#
#   bash bench/nginx_hello.sh     # WORKERS=2 CONNECTIONS=16 BENCH_SECONDS=5 ROUNDS=2
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
WORKERS=${WORKERS:-2}
CONNECTIONS=${CONNECTIONS:-16}
SECONDS_EACH=${BENCH_SECONDS:-5}
ROUNDS=${ROUNDS:-2}

cargo build --release -q
sfpm_bin=$PWD/target/release/sfpm
fpm_bin=$(command -v php-fpm8.2 || echo /usr/sbin/php-fpm8.2)
work=$(mktemp -d)
# nginx and the pools run as www-data: they must reach the sockets and scripts.
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n "${KEEP:-}" ]] || rm -rf "$work"; [[ -n "${KEEP:-}" ]] && echo "kept $work" >&2 || true
}
trap cleanup EXIT INT TERM

mkdir -p "$work/www"
printf '<?php\necho "Hello, world!\\n";\n' > "$work/www/hello.php"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
php_flags=(-n -d zend_extension=opcache.so -d opcache.enable=1 -d opcache.validate_timestamps=0)

backend_conf() { # $1 = name
    cat > "$work/$1.conf" <<CONF
[global]
pid = $work/$1.pid
error_log = $work/$1.log
daemonize = no
[bench]
user = www-data
group = www-data
listen = $work/$1.sock
listen.mode = 0666
pm = static
pm.max_children = $WORKERS
CONF
}

nginx_conf() { # $1 = name
    cat > "$work/nginx-$1.conf" <<CONF
worker_processes 1;
daemon off;
user www-data;
pid $work/nginx-$1.pid;
error_log $work/nginx-$1.error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/tmp-body;
    fastcgi_temp_path $work/tmp-fastcgi;
    proxy_temp_path $work/tmp-proxy;
    uwsgi_temp_path $work/tmp-uwsgi;
    scgi_temp_path $work/tmp-scgi;
    server {
        listen 127.0.0.1:$port;
        root $work/www;
        location ~ \.php$ {
            include /etc/nginx/fastcgi.conf;
            fastcgi_pass unix:$work/$1.sock;
        }
    }
}
CONF
}

wait_for() { # $1 = what, then a command
    local what=$1; shift
    for _ in $(seq 1 100); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "bench: $what did not come up" >&2
    exit 1
}

run_one() { # $1 = name (sfpm|php-fpm); sets RESULT to its requests/s
    local name=$1 backend_pid nginx_pid
    backend_conf "$name"
    nginx_conf "$name"
    rm -f "$work/$name.sock"
    if [[ $name == sfpm ]]; then
        PHP_INI_SCAN_DIR= "$sfpm_bin" -F -y "$work/$name.conf" "${php_flags[@]}" 2>>"$work/$name.log" &
    else
        PHP_INI_SCAN_DIR= "$fpm_bin" -F -y "$work/$name.conf" "${php_flags[@]}" 2>>"$work/$name.log" &
    fi
    backend_pid=$!
    pids+=("$backend_pid")
    wait_for "$name socket" test -S "$work/$name.sock"
    nginx -c "$work/nginx-$name.conf" &
    nginx_pid=$!
    pids+=("$nginx_pid")
    wait_for "nginx for $name" curl -fsS "http://127.0.0.1:$port/hello.php"
    curl -fsS "http://127.0.0.1:$port/hello.php" | grep -q "Hello, world!"
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" "http://127.0.0.1:$port/hello.php" > "$work/wrk-$name.txt"
    grep -E "Non-2xx|Socket errors" "$work/wrk-$name.txt" >&2 || true
    kill "$nginx_pid" "$backend_pid"
    wait "$nginx_pid" "$backend_pid" 2>/dev/null || true
    pids=()
    RESULT=$(awk '/Requests\/sec/ {print $2}' "$work/wrk-$name.txt")
}

echo "hello.php behind nginx, $WORKERS workers, wrk -t2 -c$CONNECTIONS -d${SECONDS_EACH}s, $(nproc) cores"
best_sfpm=0 best_fpm=0
for round in $(seq 1 "$ROUNDS"); do
    run_one sfpm
    s=$RESULT
    run_one php-fpm
    f=$RESULT
    printf '  round %d: sfpm %10.0f req/s   php-fpm8.2 %10.0f req/s\n' "$round" "$s" "$f"
    best_sfpm=$(python3 -c "print(max($best_sfpm, $s))")
    best_fpm=$(python3 -c "print(max($best_fpm, $f))")
done
python3 -c "print(f'  best: sfpm {$best_sfpm:.0f} req/s, php-fpm8.2 {$best_fpm:.0f} req/s, ratio sfpm/php-fpm = {$best_sfpm/$best_fpm:.2f}')"
