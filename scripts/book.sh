#!/usr/bin/env bash
# Builds the user guide (docs/, see book.toml) into target/book/ with mdBook, installing a
# pinned mdBook into target/tools/ from crates.io when it is not there. Links and anchors are
# checked by the test suite (tests/it/docs_claims.rs); this checks that the book builds.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.5.4
mdbook=target/tools/bin/mdbook
if ! "$mdbook" --version 2>/dev/null | grep -q "v$version"; then
    cargo install --quiet --locked mdbook --version "$version" \
        --no-default-features --features search --root target/tools
fi
"$mdbook" build
