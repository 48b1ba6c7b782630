//! The `criu-images` command line tool; see `criu-images --help`.

fn main() -> std::process::ExitCode {
    criu_images::cli::main(std::env::args_os())
}
