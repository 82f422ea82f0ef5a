#!/usr/bin/env python3
"""h2wire hostile-peer harness (issue 12).

For every attack and every server: start a fresh server on 127.0.0.1 (port
chosen at run time), measure its baseline RSS, run the attack in its own
process for a bounded time while sampling the server's RSS every 20 ms
(/proc/PID/status) and a legitimate client (curl, a new HTTP/2 connection
every 0.5 s) fetches a small file; then record the server's CPU seconds, the
reaction the attacker saw, and stop the server.

Writes OUT.json (raw results, rewritten after every run) and OUT.md (a
table per attack). See README.md in this directory.
"""
import argparse
import fnmatch
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import attacks as attack_catalogue  # noqa: E402

ATTACKS = attack_catalogue.ATTACKS
CLK_TCK = os.sysconf('SC_CLK_TCK')


def default_servers(build):
    return [
        ('h2wire-server', f'{build}/examples/h2wire-server --root {{root}} --port 0'),
        ('h2wire-asio-server', f'{build}/examples/h2wire-asio-server --root {{root}} --port 0'),
        ('nghttpd', 'nghttpd --no-tls --echo-upload -d {root} {port}'),
    ]


# ------------------------------------------------------------------ document root


def make_root(path):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, 'index.html'), 'w') as f:
        f.write('<!doctype html><title>h2wire attack harness</title><p>' + 'legitimate content. ' * 12 + '\n')
    for name, size in (('big.bin', 16 << 20), ('huge.bin', 1 << 30)):
        p = os.path.join(path, name)
        if not os.path.exists(p) or os.path.getsize(p) != size:
            with open(p, 'wb') as f:
                f.truncate(size)   # sparse: costs no disk, reads as zeros
    return path


# ------------------------------------------------------------------ /proc


def rss_kib(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def read_octets(pid):
    """Octets the process has read with read()/recv() (rchar in /proc/PID/io)."""
    try:
        with open(f'/proc/{pid}/io') as f:
            for line in f:
                if line.startswith('rchar:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Sampler(threading.Thread):
    """Server RSS every `interval` seconds; keeps the peak and a coarse series."""

    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.last = 0
        self.series = []
        self.stop_ev = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        next_series = 0.0
        while not self.stop_ev.is_set():
            v = rss_kib(self.pid)
            if v is None:
                break
            self.last = v
            self.peak = max(self.peak, v)
            t = time.monotonic() - self.t0
            if t >= next_series:
                self.series.append((round(t, 2), v))
                next_series = t + 0.5
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join(2)


class Legit(threading.Thread):
    """A legitimate client: one request on a new connection every `interval`
    seconds (curl --http2-prior-knowledge), timed by curl itself so that the
    harness's own scheduling does not count."""

    def __init__(self, port, curl, interval=0.5, path='/index.html', timeout=5.0):
        super().__init__(daemon=True)
        self.argv = [curl, '-s', '-o', '/dev/null', '--http2-prior-knowledge', '--max-time', str(timeout),
                     '-w', '%{http_code} %{time_total}', f'http://127.0.0.1:{port}{path}']
        self.interval = interval
        self.samples = []
        self.stop_ev = threading.Event()
        self.t0 = time.monotonic()

    def once(self):
        t = time.monotonic()
        try:
            p = subprocess.run(self.argv, capture_output=True, text=True, timeout=15)
            code, _, tt = p.stdout.strip().partition(' ')
            secs = float(tt) if tt else time.monotonic() - t
            ok = p.returncode == 0 and code == '200'
            rc = p.returncode
        except (subprocess.TimeoutExpired, ValueError, OSError):
            code, secs, ok, rc = '', time.monotonic() - t, False, -1
        s = {'t': round(t - self.t0, 2), 'ok': ok, 'status': code, 'rc': rc, 'ms': round(secs * 1000, 2)}
        self.samples.append(s)
        return s

    def run(self):
        while not self.stop_ev.is_set():
            t = time.monotonic()
            self.once()
            self.stop_ev.wait(max(0.0, t + self.interval - time.monotonic()))

    def stop(self):
        self.stop_ev.set()
        self.join(20)

    def stats(self):
        ok = [s['ms'] for s in self.samples if s['ok']]
        allms = [s['ms'] for s in self.samples]
        return {'requests': len(self.samples), 'failures': len(self.samples) - len(ok),
                'p50_ms': round(statistics.median(ok), 2) if ok else None,
                'max_ms': round(max(allms), 2) if allms else None}


# ------------------------------------------------------------------ servers


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Server:
    def __init__(self, name, template, root, logdir):
        self.name = name
        self.template = template
        port = free_port() if '{port}' in template else 0
        self.argv = [a.format(root=root, port=port) for a in shlex.split(template)]
        self.log = open(os.path.join(logdir, f'{name}.log'), 'ab')
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.pid = self.proc.pid
        if port == 0:
            line = self._first_line(5.0)
            if not line or 'listening on' not in line:
                self.stop()
                raise RuntimeError(f'{name}: no "listening on" line (got {line!r})')
            port = int(line.rsplit(':', 1)[1])
        threading.Thread(target=self._drain_stdout, daemon=True).start()
        self.port = port
        if not wait_port(port):
            self.stop()
            raise RuntimeError(f'{name}: port {port} never accepted')

    def _first_line(self, timeout):
        box = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline().decode(errors='replace')),
                             daemon=True)
        t.start()
        t.join(timeout)
        return box[0].strip() if box else None

    def _drain_stdout(self):
        try:
            while self.proc.stdout.read(65536):
                pass
        except (OSError, ValueError):
            pass

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 1.5), (signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
                try:
                    self.proc.send_signal(sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.log.close()
        return self.proc.returncode


# ------------------------------------------------------------------ one run


def run_one(args, attack, sname, template, root, logdir):
    meta = ATTACKS[attack]
    duration = args.timeout_duration if meta['timeouts'] else args.duration
    rec = {'attack': attack, 'server': sname, 'command': template, 'duration': duration,
           'title': meta['title'], 'kind': meta['kind'], 'cve': meta['cve'], 'legit_pattern': meta['legit']}
    try:
        srv = Server(sname, template, root, logdir)
    except (RuntimeError, OSError) as e:
        rec.update(error=str(e), reaction=f'server did not start: {e}')
        return rec
    try:
        warm = Legit(srv.port, args.curl)
        warm.once()
        time.sleep(0.3)
        base = rss_kib(srv.pid) or 0
        cpu0 = cpu_seconds(srv.pid) or 0.0
        rchar0 = read_octets(srv.pid)
        sampler = Sampler(srv.pid)
        sampler.peak = base
        sampler.start()
        legit = Legit(srv.port, args.curl, args.legit_interval)
        legit.start()
        argv = [sys.executable, os.path.join(HERE, 'attacks.py'), 'run', attack, '--port', str(srv.port),
                '--duration', str(duration), '--max-upload', str(args.max_upload << 20)]
        if args.no_reconnect:
            argv.append('--no-reconnect')
        t0 = time.monotonic()
        att = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        capped = None
        hard_end = t0 + duration + 30
        while att.poll() is None:
            time.sleep(0.05)
            if (sampler.peak - base) > args.max_rss_growth * 1024 and capped is None:
                capped = round(time.monotonic() - t0, 2)
                att.kill()
            if time.monotonic() > hard_end:
                att.kill()
        out, err = att.communicate()
        attack_s = time.monotonic() - t0
        cpu1 = cpu_seconds(srv.pid)
        rchar1 = read_octets(srv.pid)
        legit.stop()
        time.sleep(0.5)           # attacker gone: what does the server keep?
        after = rss_kib(srv.pid)
        sampler.stop()
        try:
            res = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            if capped is None:
                res = {'reaction': 'attacker crashed', 'error': err.decode(errors='replace')[-2000:]}
            else:
                res = {'reaction': 'no reaction seen before', 'notes': []}
        if capped is not None:
            res['reaction'] = (f'STOPPED by the harness at {args.max_rss_growth} MiB growth after {capped} s; '
                               + res.get('reaction', ''))
        rec.update({
            'port': srv.port, 'baseline_rss_kib': base, 'peak_rss_kib': sampler.peak,
            'growth_kib': max(0, sampler.peak - base),
            'after_growth_kib': None if after is None else after - base,
            'cpu_s': None if cpu1 is None else round(cpu1 - cpu0, 2), 'attack_s': round(attack_s, 2),
            'server_read_octets': None if rchar0 is None or rchar1 is None else rchar1 - rchar0,
            'rss_series': sampler.series, 'attacker': res, 'legit': legit.stats(), 'legit_samples': legit.samples,
            'reaction': res.get('reaction', ''), 'skipped': bool(res.get('skipped')),
            'rss_capped_at_s': capped,
        })
        if not srv.alive():
            rec['server_died'] = srv.proc.returncode
            rec['reaction'] = f'SERVER DIED (exit {srv.proc.returncode}); ' + rec['reaction']
        return rec
    finally:
        srv.stop()


# ------------------------------------------------------------------ output


def fmt_kib(k):
    if k is None:
        return '?'
    if k < 1024:
        return f'+{k} KiB'
    if k < 1024 * 1024:
        return f'+{k / 1024:.1f} MiB'
    return f'+{k / 1024 / 1024:.2f} GiB'


def fmt_ms(v):
    if v is None:
        return '-'
    return f'{v:.0f} ms' if v >= 100 else f'{v:.1f} ms'


def legit_cell(r):
    lg = r.get('legit')
    if not lg:
        return '-'
    s = f'{fmt_ms(lg["p50_ms"])} / {fmt_ms(lg["max_ms"])}'
    if lg['failures']:
        s += f' ({lg["failures"]}/{lg["requests"]} failed)'
    return s


def reaction_cell(r):
    text = r.get('reaction', '')
    notes = (r.get('attacker') or {}).get('notes') or []
    if notes and not r.get('skipped'):
        text += ' — ' + '; '.join(notes)
    return text.replace('|', '\\|')


def memory_cell(r, per_conn=False):
    if r.get('skipped') or 'growth_kib' not in r:
        return '-'
    s = fmt_kib(r['growth_kib'])
    conns = (r.get('attacker') or {}).get('connections')
    if per_conn and conns:
        s += f' ({r["growth_kib"] * 1024 / conns / 1000:.1f} KB/conn)'
    return s


def render(doc):
    meta = doc['meta']
    results = doc['results']
    servers = []
    for r in results:
        if r['server'] not in servers:
            servers.append(r['server'])
    attacks = []
    for r in results:
        if r['attack'] not in attacks:
            attacks.append(r['attack'])
    by = {(r['attack'], r['server']): r for r in results}
    out = [f'# Attack harness results: {meta.get("label", "")}', '',
           f'{meta["date"]} · {meta["machine"]} · attack {meta["duration"]} s '
           f'(timeout attacks {meta["timeout_duration"]} s) · RSS sampled every 20 ms · '
           f'legitimate client: curl, new connection every {meta["legit_interval"]} s', '',
           'Memory growth is the peak VmRSS during the attack minus the baseline after one warm-up request. '
           'CPU s is the server\'s user+system time during the attack. Legit is curl\'s p50 / max '
           'time for GET /index.html on a new connection.', '', 'Servers:', '']
    for name, cmd in meta['servers']:
        out.append(f'- `{name}`: `{cmd}`')
    out += ['', '## Summary (memory growth · server CPU s · legit p50 / max)', '',
            '| attack | ' + ' | '.join(servers) + ' |', '|---|' + '---|' * len(servers)]
    for a in attacks:
        cells = []
        for s in servers:
            r = by.get((a, s))
            if r is None:
                cells.append('')
            elif r.get('skipped') or 'growth_kib' not in r:
                cells.append('skipped' if r.get('skipped') else 'error')
            else:
                lg = r.get('legit') or {}
                cut = ' · **cut off**' if (r.get('attacker') or {}).get('cut_off') else ''
                died = ' · **died**' if r.get('server_died') is not None else ''
                fail = f' ({lg["failures"]} failed)' if lg.get('failures') else ''
                cells.append(f'{memory_cell(r)} · {r["cpu_s"]} s · {fmt_ms(lg.get("p50_ms"))} / '
                             f'{fmt_ms(lg.get("max_ms"))}{fail}{cut}{died}')
        out.append(f'| {a} | ' + ' | '.join(cells) + ' |')
    out.append('')
    for a in attacks:
        m = ATTACKS.get(a, {})
        first = next(r for r in results if r['attack'] == a)
        cve = f' ({first["cve"]})' if first.get('cve') else ''
        out += [f'## {a}: {first["title"]}{cve}', '']
        if m.get('doc'):
            out += [' '.join(m['doc'].split()), '']
        if m.get('legit'):
            out += ['*A legitimate pattern: the right reaction is none.*', '']
        out += ['| server | memory growth | CPU s | reaction | legit p50 / max |', '|---|---|---|---|---|']
        for s in servers:
            r = by.get((a, s))
            if r is None:
                continue
            per_conn = a in ('idle-connections', 'half-preface', 'settings-no-ack')
            out.append(f'| {s} | {memory_cell(r, per_conn)} | {r.get("cpu_s", "-")} | {reaction_cell(r)} | '
                       f'{legit_cell(r)} |')
        out.append('')
    return '\n'.join(out)


# ------------------------------------------------------------------ main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--server', action='append', metavar='NAME=COMMAND', default=[],
                    help='a server to attack; COMMAND may use {root} (document root) and {port} (a free port '
                         'chosen by the harness; without {port} the server must print "listening on HOST:PORT"). '
                         'Repeatable. Default: h2wire-server, h2wire-asio-server (from --build) and nghttpd.')
    ap.add_argument('--build', default=os.path.join(REPO, 'build'), help='build directory for the default servers')
    ap.add_argument('--attack', action='append', default=[], metavar='GLOB', help='attacks to run (default all)')
    ap.add_argument('--skip', action='append', default=[], metavar='GLOB', help='attacks not to run')
    ap.add_argument('--duration', type=float, default=8.0, help='seconds per attack (default 8)')
    ap.add_argument('--timeout-duration', type=float, default=13.0,
                    help='seconds for attacks whose answer is a timeout (default 13: past a 10 s SETTINGS timeout)')
    ap.add_argument('--quick', action='store_true', help='2 s per attack, timeouts included (smoke runs)')
    ap.add_argument('--legit-interval', type=float, default=0.5)
    ap.add_argument('--no-reconnect', action='store_true',
                    help='an attacker that is cut off does not come back with new connections')
    ap.add_argument('--max-rss-growth', type=int, default=6144, metavar='MiB',
                    help='stop an attack when the server has grown this much (protects the machine)')
    ap.add_argument('--max-upload', type=int, default=2048, metavar='MiB', help='cap for echo-upload-flood')
    ap.add_argument('--curl', default='curl')
    ap.add_argument('--root', help='document root to use (default: a temporary directory)')
    ap.add_argument('--out', default=None, metavar='PREFIX',
                    help='write PREFIX.json and PREFIX.md (default tools/attack/results/run-DATE)')
    ap.add_argument('--label', default='')
    ap.add_argument('--render', metavar='JSON', help='only render JSON (from an earlier run) as markdown to stdout')
    ap.add_argument('--list', action='store_true', help='list the attacks')
    a = ap.parse_args(argv)
    if a.quick:
        a.duration = 2.0
        a.timeout_duration = 2.0
    return a


def selected_attacks(a):
    names = [n for n in ATTACKS if not a.attack or any(fnmatch.fnmatch(n, g) for g in a.attack)]
    return [n for n in names if not any(fnmatch.fnmatch(n, g) for g in a.skip)]


def selected_servers(a):
    servers = []
    for spec in a.server:
        name, sep, cmd = spec.partition('=')
        if not sep:
            sys.exit(f'--server wants NAME=COMMAND, got {spec!r}')
        servers.append((name.strip(), cmd.strip()))
    if not servers:
        for name, cmd in default_servers(a.build):
            exe = shlex.split(cmd)[0]
            if os.path.exists(exe) or (os.sep not in exe and any(
                    os.path.exists(os.path.join(d, exe)) for d in os.environ.get('PATH', '').split(':'))):
                servers.append((name, cmd))
            else:
                print(f'note: {name} not found ({exe}), skipped', file=sys.stderr)
    return servers


def main(argv=None):
    a = parse_args(argv)
    if a.list:
        for n, m in ATTACKS.items():
            print(f'{n:28} {m["kind"]:13} {m["title"]}')
        return 0
    if a.render:
        with open(a.render) as f:
            print(render(json.load(f)))
        return 0
    attacks = selected_attacks(a)
    servers = selected_servers(a)
    if not attacks or not servers:
        sys.exit('nothing to run')
    out = a.out or os.path.join(HERE, 'results', time.strftime('run-%Y%m%d-%H%M%S'))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='h2attack-')
    root = make_root(a.root or os.path.join(tmp, 'root'))
    logdir = os.path.join(tmp, 'logs')
    os.makedirs(logdir)
    doc = {'meta': {'date': time.strftime('%Y-%m-%d %H:%M'), 'label': a.label,
                    'machine': f'{platform.node()}, {os.cpu_count()} cores, Linux {platform.release()}',
                    'duration': a.duration, 'timeout_duration': a.timeout_duration,
                    'legit_interval': a.legit_interval, 'servers': servers, 'logs': logdir},
           'results': []}
    total = len(attacks) * len(servers)
    i = 0
    for attack in attacks:
        for sname, cmd in servers:
            i += 1
            print(f'[{i}/{total}] {attack} vs {sname} ...', file=sys.stderr, flush=True)
            rec = run_one(a, attack, sname, cmd, root, logdir)
            doc['results'].append(rec)
            lg = rec.get('legit') or {}
            print(f'    {memory_cell(rec)}, cpu {rec.get("cpu_s")} s, legit p50 {fmt_ms(lg.get("p50_ms"))} '
                  f'max {fmt_ms(lg.get("max_ms"))} fail {lg.get("failures")}: {rec.get("reaction", "")[:150]}',
                  file=sys.stderr, flush=True)
            with open(out + '.json', 'w') as f:
                json.dump(doc, f, indent=1)
    with open(out + '.md', 'w') as f:
        f.write(render(doc) + '\n')
    print(f'wrote {out}.json and {out}.md (server logs in {logdir})', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
