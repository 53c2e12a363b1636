#!/usr/bin/env bash
# Records which functions a release `opsbot` runs from start to idle, and writes them to
# bot/link/startup.order, the symbol ordering file bot/build.rs hands to the linker (lld)
# for release builds: those functions are laid out together at the start of .text, so
# start-up and the idle loops touch a few hundred KiB of code pages instead of
# pages scattered across the whole ~22 MiB text (most of the idle RSS).
#
# What is recorded: `opsbot serve --console` on the example configuration and a new
# SQLite store (migrations), `help`, `whoami`, `services`, `/healthz`, `/readyz`, `/metrics`,
# and 20 s of idle loops (outbox, escalation, expiry), under valgrind's callgrind.
#
# Needs: valgrind, curl, a release build (`cargo build --release -p opsbot`).
# Run from the repository root: bot/link/record-startup-order.sh [--fresh]
#
# Symbol names carry a hash of the crate's build settings: they survive source edits but
# change with the dependency set, and `cargo bench` links the binary with dev-dependency
# features, so its names differ from `cargo build --release`. New names are therefore
# merged into the file (names already there keep their place; the linker ignores names a
# binary does not have). Record after `cargo build --release -p opsbot` and again after
# `cargo bench -p opsbot --bench startup` (which reports how much of the file the binary
# it measured has); `--fresh` starts the file over.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/opsbot
out=bot/link/startup.order
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

{ sleep 2; printf 'help\nwhoami\nservices\n'; sleep 25; } | valgrind --tool=callgrind --demangle=no \
  --dump-instr=no --callgrind-out-file="$work/cg.out" \
  "$bin" serve --console -c deploy/examples/opsbot.toml --listen "127.0.0.1:$port" \
  --database-url "sqlite://$work/opsbot.db" >"$work/out.log" 2>&1 &
runner=$!
for _ in $(seq 1 60); do curl -fs -m 1 "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
sleep 3
curl -fs "127.0.0.1:$port/readyz" >/dev/null
curl -fs "127.0.0.1:$port/metrics" >/dev/null
wait "$runner" || true

export LC_ALL=C
grep -oE '^c?fn=\([0-9]+\) .*' "$work/cg.out" | sed -E 's/^c?fn=\([0-9]+\) //' | sort -u >"$work/ran"
nm --defined-only "$bin" | awk '$2 ~ /[tT]/ {print $3}' | sort -u >"$work/text"
comm -12 "$work/ran" "$work/text" >"$work/recorded"
if [ "${1:-}" = "--fresh" ] || [ ! -f "$out" ]; then
  cp "$work/recorded" "$out"
else
  # Keep the file's order; append names it does not have yet.
  awk 'NR == FNR { seen[$0] = 1; print; next } !($0 in seen)' "$out" "$work/recorded" >"$work/merged"
  cp "$work/merged" "$out"
fi
echo "$(wc -l <"$work/recorded") functions recorded; $(wc -l <"$out") in $out"
