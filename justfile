# Thin recipes over cargo; every one is also a plain cargo command.

# Run every test (the README's test command).
test:
    cargo test --workspace --locked

# The main job: append, checkpoint, prove and verify a demo ledger.
demo *ARGS:
    cargo run --release -p ledger-cli -- demo {{ARGS}}

# Benchmarks; writes the figures that docs/BENCHMARKS.md quotes.
bench *ARGS:
    cargo run --release -p ledger-bench -- {{ARGS}}

# Lints exactly as CI runs them.
lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Format the tree.
fmt:
    cargo fmt --all

# Everything CI does.
ci:
    bash .ci/run
