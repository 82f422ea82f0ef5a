#!/usr/bin/python3
"""The WebSocket over HTTP/2 example (issue 6 §3): h2wire-client --websocket
against h2wire-server's /ws echo, both from examples/.

    /usr/bin/python3 connect_ws_example.py <h2wire-server> <h2wire-client>

Starts the server on 127.0.0.1 with a kernel-chosen port, pipes lines into
the client (ASCII, UTF-8, an empty line, a 200 000-octet line, a last line
without a newline) and checks that every line comes back, in order, and
that the client ends with a clean close (exit 0). Then checks that a path
other than /ws, and an h2wire-client against a server that is gone, fail.
"""

import re
import subprocess
import sys

sys.dont_write_bytecode = True

DEADLINE = 60


def main():
    server_exe, client_exe = sys.argv[1], sys.argv[2]
    failed = 0

    def check(name, ok, detail=""):
        nonlocal failed
        failed += 0 if ok else 1
        print("RESULT %s %s %s" % (name, "ok" if ok else "FAIL", detail), flush=True)

    server = subprocess.Popen([server_exe, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        first = server.stdout.readline()
        m = re.search(r":(\d+)\s*$", first)
        if not m:
            check("server-start", False, "first line %r" % first)
            return 1
        port = m.group(1)
        url = "http://127.0.0.1:%s/ws" % port

        big = "".join(chr(ord("a") + (i * 7) % 26) for i in range(200000))
        lines = ["hello", "w\u00f6rld \u2713 \U0001F30D", "", big, "after the big one"]
        text = "\n".join(lines) + "\nno newline at the end"
        want = lines + ["no newline at the end"]
        r = subprocess.run([client_exe, "-v", "--websocket", url], input=text.encode(), capture_output=True,
                           timeout=DEADLINE)
        got = r.stdout.decode("utf-8", errors="replace").split("\n")
        if got and got[-1] == "":
            got.pop()
        check("echo-lines", got == want,
              "%d of %d lines back%s" % (sum(1 for a, b in zip(got, want) if a == b), len(want),
                                          "" if got == want else "; stderr: " + r.stderr.decode()[-500:]))
        check("clean-close", r.returncode == 0 and b"closed with 1000" in r.stderr,
              "exit %d, %s" % (r.returncode, r.stderr.decode().strip().splitlines()[-1:]))

        # Many messages in one go: each comes back once, in order.
        many = ["message %d" % i for i in range(2000)]
        r = subprocess.run([client_exe, "--websocket", url], input=("\n".join(many) + "\n").encode(),
                           capture_output=True, timeout=DEADLINE)
        check("2000-messages", r.returncode == 0 and r.stdout.decode().split("\n")[:-1] == many,
              "exit %d, %d lines" % (r.returncode, r.stdout.count(b"\n")))

        # Not the WebSocket endpoint: the server refuses, the client fails.
        r = subprocess.run([client_exe, "--websocket", "http://127.0.0.1:%s/other" % port], input=b"x\n",
                           capture_output=True, timeout=DEADLINE)
        check("other-path-refused", r.returncode != 0 and b"answered" in r.stderr,
              "exit %d: %s" % (r.returncode, r.stderr.decode().strip()))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    print("SUMMARY %s" % ("all passed" if failed == 0 else "%d failed" % failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
