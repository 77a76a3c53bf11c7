//! The `sfpm` binary: php-fpm's command line around the PHP SAPI. See `cli`.

fn main() {
    std::process::exit(sfpm::cli::main(std::env::args_os().collect()));
}
