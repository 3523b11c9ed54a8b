#!/usr/bin/env python3
"""A stand-in for nixpkgs' nixos-test-driver, for vmscope's demo and tests.

It prints what the current driver prints, where it prints it: logger lines on stderr with
their colours, the SSH backdoor and symbols blocks and the test script's prints on stdout,
the REPL (IPython through ptpython when installed) on its terminal. Machines are simulated:
each "QEMU" is a real `sleep` process in the driver's process group, its serial console
replays a boot log, and `succeed`/`fail` run their commands in a local shell, whose stderr
shows up on the serial console as a guest's would.

Standard library only; ptpython and IPython are used when they are installed.
"""

import argparse
import contextlib
import datetime
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
LOCK = threading.RLock()
SPEED = 1.0
# Where screenshots go: the driver's output directory (-o), the current one by default.
OUT_DIR = "."
# Like the real driver: threads write stderr without a common lock (--unlocked).
UNLOCKED = False

BOLD, DIM, NORMAL, RESET = "\x1b[1m", "\x1b[2m", "\x1b[22m", "\x1b[0m"
RED, GREEN, YELLOW = "\x1b[31m", "\x1b[32m", "\x1b[33m"


def eprint(text):
    if UNLOCKED:
        # print() writes the text and the newline apart: another thread's text can come
        # between them. The pause makes that as likely as under a busy real driver.
        sys.stderr.write(text)
        time.sleep(random.random() / 2000)
        sys.stderr.write("\n")
        sys.stderr.flush()
        return
    with LOCK:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


def pause(seconds):
    time.sleep(seconds / SPEED)


def prefix(machine):
    return f"{machine}: " if machine else ""


def log(msg, machine=None):
    eprint(prefix(machine) + msg)


def log_test_error(msg):
    for line in msg.split("\n"):
        eprint(f"{RED}!!! {RESET}{line}")


def warn(msg, line):
    # Like the driver's formatwarning: no newline after the final reset.
    with LOCK:
        sys.stderr.write(f"{BOLD}{YELLOW}??? Warning (UserWarning): {NORMAL}{msg}\n"
                         f"    File \"<string>\", line {line}\n{RESET}")
        sys.stderr.flush()


@contextlib.contextmanager
def nested(msg, machine=None):
    eprint(f"{prefix(machine)}{BOLD}{GREEN}{msg}{RESET}")
    start = time.monotonic()
    yield
    # No "finished" line when the block is left by an exception.
    eprint(f"{prefix(machine)}(finished: {msg}, in {time.monotonic() - start:.2f} seconds)")


class RequestedAssertionFailed(AssertionError):
    pass


def boot_lines(name):
    with open(os.path.join(HERE, "boot.txt"), encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if not l.startswith("#")]
    return [l.replace("\\e", "\x1b").replace("{name}", name) for l in lines]


class Machine:
    KIND = "QemuMachine"
    RUNNING = "QEMU running"
    def __init__(self, name):
        self.name = name
        self.qemu = None
        self.booted = threading.Event()
        self.connected = False
        self.crashed = False
        self.logged_in = False

    def serial(self, line):
        eprint(f"{DIM}{self.name} # {line}{RESET}")

    def start(self):
        if self.qemu is not None:
            return
        log("starting vm", self.name)
        # The "QEMU" of this machine: a real process of the driver's group.
        self.qemu = subprocess.Popen(["sleep", "100000"])
        log(f"{self.RUNNING} (pid {self.qemu.pid})", self.name)
        threading.Thread(target=self._boot, daemon=True).start()

    def _boot(self):
        for line in boot_lines(self.name):
            if self.crashed:
                return
            self.serial(line)
            if line.startswith("connecting to host"):
                self.booted.set()
            pause(0.02)
        self.booted.set()

    def connect(self):
        if self.connected:
            return
        self.start()
        with nested("waiting for the VM to finish booting", self.name):
            start = time.monotonic()
            self.booted.wait()
            if self.crashed:
                raise RuntimeError("Shell disconnected")
            log("Guest shell says: b'Spawning backdoor root shell...\\n'", self.name)
            log("connected to guest root shell", self.name)
            log(f"(connecting took {time.monotonic() - start:.2f} seconds)", self.name)
            self.connected = True

    def execute(self, command):
        self.connect()
        if self.crashed:
            raise RuntimeError("Shell disconnected")
        proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
        for line in proc.stderr.splitlines():
            self.serial(line)
        return proc.returncode, proc.stdout

    def succeed(self, *commands):
        output = ""
        for command in commands:
            with nested(f"must succeed: {command}", self.name):
                rc, out = self.execute(command)
                if rc != 0:
                    log(f"output: {out}", self.name)
                    raise RequestedAssertionFailed(f"command `{command}` failed (exit code {rc})")
                output += out
        return output

    def fail(self, *commands):
        output = ""
        for command in commands:
            with nested(f"must fail: {command}", self.name):
                rc, out = self.execute(command)
                if rc == 0:
                    raise RequestedAssertionFailed(f"command `{command}` unexpectedly succeeded")
                output += out
        return output

    def wait_for_unit(self, unit):
        with nested(f"waiting for unit {unit}", self.name):
            self.connect()
            pause(0.1)
            self.serial(f"[\x1b[0;32m  OK  \x1b[0m] Started \x1b[0;1;39m{unit}\x1b[0m.")

    def wait_until_succeeds(self, command, timeout=900):
        if isinstance(timeout, (int, float)):
            warn("wait_until_succeeds(): passing a bare int/float as a duration is deprecated. "
                 "Use datetime.timedelta instead.", 1)
            timeout = datetime.timedelta(seconds=timeout)
        with nested(f"waiting for success: {command}", self.name):
            start = time.monotonic()
            while True:
                rc, out = self.execute(command)
                if rc == 0:
                    return out
                elapsed = time.monotonic() - start
                if elapsed > timeout.total_seconds():
                    raise RequestedAssertionFailed(
                        f"action timed out after {elapsed:.2f} seconds "
                        f"(timeout={timeout.total_seconds()})")
                pause(1)

    # What the machine's display shows: a login screen, then a desktop once logged in.
    def screen_text(self):
        return ["Welcome to NixOS", f"{self.name} login:"] if not self.logged_in else \
            ["Desktop", "Terminal", "Files"]

    def screendump(self, path):
        """QEMU's monitor `screendump PATH`: the display as a binary PPM. The picture: a grey
        title bar with a red mark at its right, a blue ground, and a white window with a
        dark bar per line of text the screen shows."""
        w, h = 320, 200
        px = bytearray(bytes((30, 58, 95)) * (w * h))

        def fill(x0, y0, x1, y1, rgb):
            for y in range(y0, y1):
                row = (y * w + x0) * 3
                px[row:row + (x1 - x0) * 3] = bytes(rgb) * (x1 - x0)

        fill(0, 0, w, 20, (200, 200, 200))
        fill(280, 4, 300, 16, (220, 40, 40))
        fill(20, 40, 300, 180, (240, 240, 240))
        for i, text in enumerate(self.screen_text()):
            fill(30, 52 + i * 14, 30 + min(260, 9 * len(text)), 60 + i * 14, (40, 40, 40))
        with open(path, "wb") as f:
            f.write(b"P6\n%d %d\n255\n" % (w, h) + bytes(px))

    def screenshot(self, filename):
        """As the driver does: a `screendump` into a temporary PPM, converted with
        `pnmtopng` into the output directory."""
        if "." not in filename:
            filename += ".png"
        if "/" not in filename:
            filename = os.path.join(OUT_DIR, filename)
        with nested(f"making screenshot {filename}", self.name):
            self.connect()
            with tempfile.TemporaryDirectory() as tmp:
                ppm = os.path.join(tmp, "ppm")
                self.screendump(ppm)
                ret = subprocess.run(f"pnmtopng '{ppm}' > '{filename}'", shell=True)
                if ret.returncode != 0:
                    raise RuntimeError(
                        f"Cannot convert screenshot (pnmtopng returned code {ret.returncode})")

    def get_screen_text_variants(self):
        text = "\n".join(self.screen_text())
        return [text, text.replace("o", "0"), text.lower()]

    def get_screen_text(self):
        return self.get_screen_text_variants()[0]

    def wait_for_text(self, regex, timeout=datetime.timedelta(seconds=3)):
        with nested(f"waiting for {regex} to appear on screen", self.name):
            self.connect()
            start = time.monotonic()
            while True:
                variants = self.get_screen_text_variants()
                if any(re.search(regex, v) for v in variants):
                    return
                elapsed = time.monotonic() - start
                if elapsed > timeout.total_seconds():
                    log(f"Last OCR attempt failed. Text was: {variants}", self.name)
                    raise RequestedAssertionFailed(
                        f"action timed out after {elapsed:.2f} seconds "
                        f"(timeout={timeout.total_seconds()})")
                pause(0.5)

    def send_chars(self, chars):
        with nested(f"sending keys {chars!r}", self.name):
            if chars.endswith("\n"):
                self.logged_in = True

    def shutdown(self):
        with nested("waiting for the VM to power off", self.name):
            self.serial("[  312.500000] reboot: Power down")
            self.stop()

    def crash(self):
        log("forced crash", self.name)
        self.stop()

    def panic(self):
        """The guest's kernel panics: the console says so and QEMU goes away."""
        self.serial("[  313.000000] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009")
        self.crashed = True
        self.booted.set()
        self.stop()

    def stop(self):
        if self.qemu is not None and self.qemu.poll() is None:
            self.qemu.terminate()
            self.qemu.wait()

    def __repr__(self):
        return f"<Machine '{self.name}'>"


class ContainerMachine(Machine):
    """A systemd-nspawn container as the driver runs one: `systemd-nspawn running (pid N)`,
    and for a console its journal, followed with `journalctl --output=short-monotonic` and
    logged as `NAME # [ seconds] NAME unit[pid]: message`."""

    KIND = "NspawnMachine"
    RUNNING = "systemd-nspawn running"

    def _boot(self):
        log(f"Waiting for journal at /tmp/vm-state-{self.name}/var/log/journal...", self.name)
        units = [
            ("systemd", 1, "Starting nginx.service - Nginx Web Server..."),
            ("nginx", 231, "nginx: configuration file /etc/nginx/nginx.conf test is successful"),
            ("systemd", 1, "Started nginx.service - Nginx Web Server."),
            ("dhcpcd", 190, "eth1: adding address fe80::1"),
            ("sshd", 201, "Server listening on 0.0.0.0 port 22."),
            ("systemd", 1, "Reached target multi-user.target - Multi-User System."),
            ("nginx", 232, "worker process 233 started"),
        ]
        for i, (unit, pid, msg) in enumerate(units):
            if self.crashed:
                return
            self.serial(f"[{1.5 + i * 0.137:12.6f}] {self.name} {unit}[{pid}]: {msg}")
            pause(0.02)
        self.booted.set()

    def wait_for_unit(self, unit):
        with nested(f"waiting for unit {unit}", self.name):
            self.connect()
            pause(0.1)


class Debug:
    """The debug hook (`--debug-hook-attach`): on a failure, the breakpoint line, a
    `sleep <id>` marker process for `attach` to find, and a real RemotePdb waiting for a
    connection. Without the hook, breakpoint() does nothing, as in the driver."""

    def __init__(self, attach, port):
        self.attach = attach
        self.port = port
        self.marker = None

    def breakpoint(self, host="127.0.0.1", port=None):
        if not self.attach:
            return
        pattern = str(random.randrange(999999, 9999999))
        log_test_error(f"Breakpoint reached, run 'sudo {self.attach} {pattern}'")
        os.environ["bashInteractive"] = shutil.which("bash") or "/bin/sh"
        # The driver forks; a child process of the same group is the same for attach, and
        # this one is ended when the fake driver is, rather than living for days.
        self.marker = subprocess.Popen(["sleep", pattern])
        from remote_pdb import RemotePdb
        logging.getLogger("remote_pdb").disabled = True
        RemotePdb(host, self.port if port is None else port).set_trace(sys._getframe().f_back)

    def end(self):
        if self.marker is not None and self.marker.poll() is None:
            self.marker.kill()
            self.marker.wait()


class Driver:
    def __init__(self, names, global_timeout, ssh_dir, debug=None, ssh_user="root", containers=()):
        self.debug = debug or Debug(None, 4444)
        if containers:
            # As the driver: containers need root, checked before any machine is made.
            uid = int(os.environ.get("FAKE_DRIVER_UID", os.geteuid()))
            assert uid == 0, f"systemd-nspawn requires root to work. You are {uid}"
        self.machines = sorted(
            [Machine(n) for n in names] + [ContainerMachine(n) for n in containers],
            key=lambda m: m.name)
        self.global_timeout = global_timeout
        self.ssh_dir = ssh_dir
        self.ssh_user = ssh_user
        self.timer = None
        self.script = ""
        # The subtests as the driver's JUnit reporter keeps them: name, seconds, error.
        self.cases = []

    def start_all(self):
        with nested("start all VMs"):
            threads = [threading.Thread(target=m.start) for m in self.machines]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    def symbols(self):
        general = dict(start_all=self.start_all, machines=self.machines, log=log, os=os,
                       subtest=self.subtest, test_script=self.test_script, run_tests=self.run_tests,
                       dump_machine_ssh=self.dump_machine_ssh, driver=self, debug=self.debug,
                       RequestedAssertionFailed=RequestedAssertionFailed)
        names = {m.name.replace("-", "_"): m for m in self.machines}
        if len(self.machines) == 1:
            general["machine"] = self.machines[0]
        print("additionally exposed symbols:")
        print("    " + "".join(f"{n}, " for n in names).rstrip() )
        print("    ,")
        print("    start_all, test_script, machines, machines_qemu, machines_nspawn, vlans, driver, "
              "log, os, create_machine, subtest, run_tests, join_all, retry, serial_stdout_off, "
              "serial_stdout_on, polling_condition, BaseMachine, QemuMachine, NspawnMachine, t, "
              "debug, dump_machine_ssh")
        sys.stdout.flush()
        return {**general, **names}

    @contextlib.contextmanager
    def subtest(self, name):
        start = time.monotonic()
        with nested(f"subtest: {name}"):
            try:
                yield
            except Exception as e:
                log_test_error(f'Test "{name}" failed with error: "{e}"')
                self.cases.append((name, time.monotonic() - start, str(e)))
                raise
        self.cases.append((name, time.monotonic() - start, None))

    def write_junit(self, path):
        """The report as the driver's reporter (junitparser, nixpkgs' golden
        junit_xml_output.xml) writes it: tab-indented, a case per subtest, `main` when there
        are none, `failure message="test case failed"` and the error in system-err."""
        from xml.sax.saxutils import escape, quoteattr
        cases = self.cases or [("main", 0.0, None)]
        total = sum(c[1] for c in cases)
        failed = sum(1 for c in cases if c[2] is not None)
        out = ['<?xml version="1.0" encoding="utf-8"?>',
               f'<testsuites tests="{len(cases)}" failures="{failed}" errors="0" skipped="0" time="{total:.2f}">',
               f'\t<testsuite name="NixOS integration test" tests="{len(cases)}" errors="0" '
               f'failures="{failed}" skipped="0" time="{total:.2f}">']
        for name, secs, error in cases:
            out.append(f'\t\t<testcase name={quoteattr(name)} time="{secs:.2f}">')
            if error is not None:
                out.append('\t\t\t<failure message="test case failed"/>')
            out.append(f'\t\t\t<system-out>{escape("subtest: " + name)}</system-out>')
            if error is not None:
                out.append(f'\t\t\t<system-err>{escape(error)}</system-err>')
            out.append('\t\t</testcase>')
        out += ['\t</testsuite>', '</testsuites>', '']
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(out))

    def dump_machine_ssh(self):
        if not self.ssh_dir:
            return
        width = max(len(m.name) for m in self.machines)
        print("SSH backdoor enabled, the machines can be accessed like this:")
        print(f"{BOLD}Note:{RESET} this requires {BOLD}systemd-ssh-proxy(1){RESET} to be enabled "
              "(default on NixOS 25.05 and newer).")
        for m in sorted(self.machines, key=lambda m: m.name):
            pad = " " * (width - len(m.name) + 2)
            print(f"    {m.name}:{pad}{BOLD}ssh -o User={self.ssh_user} "
                  f"vsock-mux/{self.ssh_dir}/{m.name}_host.socket{RESET}")
        sys.stdout.flush()

    def terminate(self):
        with nested("timeout reached; test terminating..."):
            for m in self.machines:
                if m.qemu is not None and m.qemu.poll() is None:
                    log(f"kill {m.KIND} (pid {m.qemu.pid})")
                    m.stop()
        os.kill(os.getpid(), signal.SIGTERM)

    def test_script(self, script=None, stop=True):
        """Runs the script; a failed assertion pauses at the breakpoint from this frame, as
        in the driver (pdb sees `symbols`, the script's namespace). With `stop` false the
        failure is the caller's (the demo goes on to the REPL)."""
        self.script = script if script is not None else self.script
        with nested("run the VM test script"):
            symbols = self.symbols()
            try:
                exec(compile(self.script, "<string>", "exec"), symbols)
            except RequestedAssertionFailed as e:
                if not stop:
                    raise
                self.report(e, e.__traceback__)
                self.debug.breakpoint()
                self.cleanup()
                sys.exit(1)

    def report(self, exc, tb):
        """Prints a failed assertion the way the driver does: only the script's frames."""
        source = self.script.splitlines()
        frames = [f for f in traceback.extract_tb(tb) if f.filename == "<string>"]
        lines = ["Traceback (most recent call last):"]
        for f in frames:
            lines.append(f'  File "<string>", line {f.lineno}, in {f.name}')
            if 0 < f.lineno <= len(source):
                lines.append(f"    {source[f.lineno - 1].strip()}")
        lines.append("")
        lines.append(f"{type(exc).__name__}: {exc}")
        log_test_error("\n".join(lines))

    def run_tests(self, script):
        self.timer = threading.Timer(self.global_timeout, self.terminate)
        self.timer.daemon = True
        self.timer.start()
        started = time.monotonic()
        self.test_script(script)
        log(f"test script finished in {time.monotonic() - started:.2f}s")

    def cleanup(self):
        self.debug.end()
        if self.timer:
            self.timer.cancel()
        with nested("cleanup"):
            for m in self.machines:
                if m.qemu is not None and m.qemu.poll() is None:
                    log(f"kill {m.KIND} (pid {m.qemu.pid})")
                    m.stop()


SCENARIOS = {
    "pass": '''
start_all()
with subtest("machines boot"):
    for m in machines:
        m.wait_for_unit("multi-user.target")
with subtest("the server answers"):
    server.wait_for_unit("nginx.service")
    print("server says:", server.succeed("echo hello from server").strip())
with subtest("the client fetches the page"):
    client.succeed("echo fetching >&2; true")
    client.wait_until_succeeds("true", 30)
''',
    "fail": '''
start_all()
with subtest("machines boot"):
    for m in machines:
        m.wait_for_unit("multi-user.target")
with subtest("the client fetches the page"):
    client.succeed("echo fetching >&2; true")
with subtest("the database accepts connections"):
    database.wait_for_unit("postgresql.service")
    database.succeed("echo 'psql: error: connection refused' >&2; exit 2")
''',
    # The same test passing or failing by the host it runs on: its client cannot reach the
    # server when $VMSCOPE_FLAKE is set (two runs to compare with `vmscope diff`).
    "flaky": '''
start_all()
with subtest("machines boot"):
    for m in machines:
        m.wait_for_unit("multi-user.target")
with subtest("the server answers"):
    server.wait_for_unit("nginx.service")
with subtest("the client fetches the page"):
    client.succeed(
        'test -z "$VMSCOPE_FLAKE" || { echo "curl: (7) Failed to connect to server port 80" >&2; exit 7; }'
    )
''',
    "timeout": '''
start_all()
with subtest("wait for something that never happens"):
    client.wait_for_unit("multi-user.target")
    client.wait_until_succeeds("test -e /this-file-is-never-created", datetime.timedelta(seconds=600))
''',
    # A guest whose failing command prints lines that pass for the driver's (the output is
    # the file $VMSCOPE_FORGED): vmscope must act on none of them.
    "forge": '''
start_all()
with subtest("fetch the page"):
    client.succeed('cat "$VMSCOPE_FORGED"; exit 22')
''',
    # A graphical test: screenshots of the login screen and the desktop, OCR that finds the
    # welcome text, then OCR that waits for a window that never comes.
    "graphical": '''
start_all()
client.wait_for_unit("multi-user.target")
with subtest("the login screen"):
    client.wait_for_text("Welcome")
    client.screenshot("login")
with subtest("the desktop"):
    client.send_chars("alice\\n")
    client.screenshot("desktop")
    client.wait_for_text("Firefox", datetime.timedelta(seconds=1))
''',
    # A container beside a VM: the web server runs in the container.
    "container": '''
start_all()
with subtest("the web server in the container"):
    web.wait_for_unit("nginx.service")
    web.succeed("echo serving")
with subtest("the client reaches it"):
    client.succeed("echo fetched")
''',
    "crash": '''
start_all()
with subtest("machines boot"):
    client.wait_for_unit("multi-user.target")
database.panic()
with subtest("the database answers"):
    database.succeed("true")
''',
}


def main():
    global SPEED, UNLOCKED
    p = argparse.ArgumentParser(prog="nixos-test-driver", description=__doc__.splitlines()[0])
    p.add_argument("-I", "--interactive", action="store_true")
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="pass")
    p.add_argument("--machines", default="client,database,server")
    p.add_argument("--global-timeout", type=float, default=600.0)
    p.add_argument("--debug-hook-attach", metavar="ATTACH",
                   help="on a failure, pause at a breakpoint for this attach program")
    p.add_argument("--pdb-port", type=int, default=4444,
                   help="the breakpoint's RemotePdb port (0: any free one; the driver uses 4444)")
    p.add_argument("--ssh-dir", help="announce an SSH backdoor with host sockets in this directory")
    p.add_argument("--ssh-user", default="root",
                   help="the user of the announced ssh commands (tests: the sshd's own user)")
    p.add_argument("--history", metavar="FILE",
                   help="the REPL's history file (the driver's: .nixos-test-history here)")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--unlocked", action="store_true",
                   help="write stderr from every thread without a lock, as the real driver does")
    p.add_argument("--flood", type=float, metavar="MB",
                   help="write MB of serial output across the machines as fast as possible, then exit")
    p.add_argument("--flood-report", metavar="FILE", help="with --flood: write the seconds it took here")
    p.add_argument("-o", "--output_directory", default=".",
                   help="where the JUnit report goes (the driver's: screenshots too)")
    p.add_argument("--junit-xml", metavar="PATH",
                   help="write the JUnit report here, relative to the output directory")
    p.add_argument("-c", "--config", metavar="FILE",
                   help="the driver's configuration (JSON): its vms and containers are the machines")
    p.add_argument("--then-repl", action="store_true",
                   help="with -I: run the scenario first, then open the REPL (the demo)")
    args = p.parse_args()
    global OUT_DIR
    OUT_DIR = os.path.abspath(args.output_directory)
    SPEED = max(args.speed, 0.01)
    UNLOCKED = args.unlocked
    if args.flood:
        flood(args.machines.split(","), args.flood, args.flood_report)
        return
    names, containers = [n for n in args.machines.split(",") if n], []
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            config = json.load(f)
        names, containers = sorted(config.get("vms", {})), sorted(config.get("containers", {}))
    log("Machine state will be reset. To keep it, pass --keep-machine-state")
    driver = Driver(names, args.global_timeout, args.ssh_dir,
                    Debug(args.debug_hook_attach, args.pdb_port), args.ssh_user, containers)

    with nested("start all VLans"):
        pass
    driver.dump_machine_ssh()
    log(f"Test will time out and terminate in {float(args.global_timeout)} seconds")
    try:
        if args.interactive:
            if args.then_repl:
                try:
                    driver.test_script("import datetime\n" + SCENARIOS[args.scenario], stop=False)
                except RequestedAssertionFailed as e:
                    driver.report(e, e.__traceback__)
            repl(driver, args.history)
        else:
            script = "import datetime\n" + SCENARIOS[args.scenario]
            driver.run_tests(script)
    finally:
        if sys.exc_info()[0] is not SystemExit:
            driver.cleanup()
        if args.junit_xml:
            driver.write_junit(os.path.join(args.output_directory, args.junit_xml))


def flood(names, megabytes, report):
    """Serial output of many machines at once, written line by line the way the driver's
    logger writes it: its stderr at its busiest."""
    machines = [Machine(n) for n in names]
    lines = boot_lines("x")
    total = int(megabytes * 1_000_000)
    start = time.monotonic()
    written = 0
    i = 0
    while written < total:
        m = machines[i % len(machines)]
        line = lines[i % len(lines)]
        m.serial(line)
        written += len(m.name) + len(line) + 12
        i += 1
    elapsed = time.monotonic() - start
    if report:
        with open(report, "w") as f:
            f.write(f"{elapsed:.3f}\n")
    print(f"flood: {written / 1e6:.0f} MB of serial lines in {elapsed:.2f} s")


def repl(driver, history=None):
    symbols = driver.symbols()
    history = history or os.path.join(os.getcwd(), ".nixos-test-history")
    try:
        from ptpython.ipython import embed
        embed(user_ns=symbols, history_filename=history)
        return
    except ImportError:
        pass
    try:
        from ptpython.repl import embed as pt_embed
        pt_embed(globals=symbols, history_filename=history)
        return
    except ImportError:
        pass
    import code
    code.interact(local=symbols, banner="")


if __name__ == "__main__":
    main()
