fn main() {
    std::process::exit(vmscope::cli::main());
}
