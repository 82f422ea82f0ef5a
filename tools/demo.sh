#!/usr/bin/env bash
# The demo: builds h2wire-server (examples/server, poll() + h2wire), starts it
# on a free port of 127.0.0.1 serving a small directory, fetches a page with
# `curl --http2-prior-knowledge -v` (the verbose output shows HTTP/2 in use),
# then POSTs to /echo, and stops the server (SIGTERM: graceful GOAWAY).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/scripts/deps.sh
install_packages meson ninja-build g++ pkg-config curl

builddir=${H2WIRE_BUILD_DIR:-build-demo}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" -Dtests=disabled -Dtools=disabled -Dtls=disabled >/dev/null
ninja -C "$builddir" examples/h2wire-server >/dev/null

root=$(mktemp -d)
log=$(mktemp)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$root" "$log"
}
trap cleanup EXIT
cat > "$root/index.html" <<'HTML'
<!doctype html>
<title>h2wire</title>
<p>Hello from h2wire-server: HTTP/2 from a sans-IO library on a poll() loop.</p>
HTML

"$builddir/examples/h2wire-server" --root "$root" --port 0 > "$log" 2>&1 &
server_pid=$!
port=
for _ in $(seq 1 100); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -n1)
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { echo "h2wire-server did not start:"; cat "$log"; exit 1; }

echo "== h2wire-server is listening on 127.0.0.1:$port; curl --http2-prior-knowledge -v =="
curl --silent --show-error --http2-prior-knowledge -v "http://127.0.0.1:$port/index.html" 2>&1 |
    grep -E '^(\* Connected|\* Using Stream|> GET|< HTTP|< content|<!doctype|<p>)' || true
echo
echo "== POST /echo =="
curl --silent --show-error --http2-prior-knowledge --data-binary 'echo me over HTTP/2' "http://127.0.0.1:$port/echo"
echo
echo "== stopping h2wire-server (SIGTERM: GOAWAY, open streams finish) =="
kill -TERM "$server_pid"
wait "$server_pid" && echo "h2wire-server exited cleanly" || echo "h2wire-server exited with status $?"
server_pid=
