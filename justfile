# The recipes run exactly what CI runs (.ci/run).

default: ci

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy -p dirsync --no-default-features -- -D warnings

test:
    cargo test --workspace

docs:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

demo:
    cargo run --release -- demo

ci:
    bash .ci/run
