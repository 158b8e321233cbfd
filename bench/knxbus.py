"""A real knxd on loopback (for tests, the demo and the latency benchmark), and bus monitors
that are not the service under test.

``Knxd`` runs ``knxd`` with a dummy bus, a KNXnet/IP server (tunnelling, routing, discovery) on
a port of our choosing and a Unix socket for knxd's own client tools::

    knxd -e 0.0.1 -E 0.0.2:8 -u SOCK -D -T -R --Interface=lo -S224.0.23.12:PORT -b dummy:

(option order matters: the server options ``-D -T -R --Interface`` go before the ``-S`` they
configure, the driver ``-b`` comes last). The process is started and stopped by pid; ``start``
returns once knxd answers a KNXnet/IP DESCRIPTION_REQUEST on 127.0.0.1:PORT.

Two monitors, both independent of edgeasr and of xknx's frame parser:

* ``MulticastMonitor`` joins the routing multicast group on loopback and parses each
  ROUTING_INDICATION's cEMI frame. knxd forwards every bus telegram there (including ones from
  tunnel clients), and the socket outlives knxd restarts, so nothing sent right after a restart
  is missed.
* ``KnxtoolMonitor`` runs ``knxtool vbusmonitor1 local:SOCK`` (knxd's own view of its bus) and
  parses the raw TP1 frame it prints.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("tests.knxd")

KNXD = shutil.which("knxd")
KNXTOOL = shutil.which("knxtool")
MULTICAST_GROUP = "224.0.23.12"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (knxd serves UDP; TCP tests probe it)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return int(port)
    raise RuntimeError("no free port found")


# ---------------------------------------------------------------------------------------------
# knxd
# ---------------------------------------------------------------------------------------------


class Knxd:
    """One knxd process on loopback: ``start()``, ``stop()``, ``restart()``; by pid only."""

    def __init__(self, port: int, workdir: Path) -> None:
        if KNXD is None:
            raise RuntimeError("knxd is not installed (apt-get install knxd knxd-tools)")
        self.port = port
        self.socket = workdir / f"knxd-{port}.sock"
        self.logfile = workdir / f"knxd-{port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        assert KNXD is not None
        return [
            KNXD,
            "-e", "0.0.1",  # knxd's own address
            "-E", "0.0.2:8",  # addresses handed to tunnel clients
            "-u", str(self.socket),  # Unix socket for knxtool
            "-D", "-T", "-R",  # discovery, tunnelling, routing ...
            "--Interface=lo",  # ... on loopback ...
            f"-S{MULTICAST_GROUP}:{self.port}",  # ... as KNXnet/IP server on this port
            "-b", "dummy:",  # no real bus behind it
        ]  # fmt: skip

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self, timeout: float = 5.0) -> None:
        if self.pid is not None:
            raise RuntimeError(f"knxd (pid {self.pid}) is already running")
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        with self.logfile.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"knxd exited with {self.proc.returncode}: {self.log_tail()}\n"
                    f"command: {' '.join(self.command())}"
                )
            if self.socket.exists() and describe(self.port, timeout=0.2):
                log.info("knxd pid %d listening on 127.0.0.1:%d", self.proc.pid, self.port)
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"knxd did not answer on 127.0.0.1:{self.port} within {timeout} s")

    def stop(self) -> None:
        """SIGTERM by pid, SIGKILL if it lingers; always reaped."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        log.info("knxd pid %d stopped", proc.pid)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> Knxd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def describe(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True if a KNXnet/IP server answers a DESCRIPTION_REQUEST on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        local_port = sock.getsockname()[1]
        hpai = struct.pack("!BB4sH", 8, 1, socket.inet_aton("127.0.0.1"), local_port)
        frame = struct.pack("!BBHH", 6, 0x10, 0x0203, 6 + len(hpai)) + hpai
        try:
            sock.sendto(frame, (host, port))
            data = sock.recv(1024)
        except OSError:  # timeout or ICMP port unreachable
            return False
    return len(data) >= 4 and struct.unpack("!H", data[2:4])[0] == 0x0204


def knxtool(sock: Path, *args: str) -> str:
    """Run ``knxtool APPLET local:SOCK ARGS...`` (e.g. groupswrite, groupresponse)."""
    if KNXTOOL is None:
        raise RuntimeError("knxtool is not installed (apt-get install knxd-tools)")
    applet, *rest = args
    proc = subprocess.run(
        [KNXTOOL, applet, f"local:{sock}", *rest],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"knxtool {' '.join(args)} failed: {proc.stderr or proc.stdout}")
    return proc.stdout


# ---------------------------------------------------------------------------------------------
# Bus telegrams as the monitors see them
# ---------------------------------------------------------------------------------------------

APCI_NAMES = {0: "read", 1: "response", 2: "write"}


@dataclass(frozen=True)
class BusTelegram:
    src: str  # "1.1.250"
    ga: str  # "1/2/3"
    service: str  # "write" | "response" | "read" | "apci-N"
    payload: bytes  # data octets; a 6-bit value folded into the APCI becomes one byte
    small: bool  # True if the value was folded into the APCI octet (DPT 1, 2, 3, ...)
    at: float = field(default_factory=time.monotonic, compare=False)


def _ia(raw: int) -> str:
    return f"{raw >> 12}.{(raw >> 8) & 0x0F}.{raw & 0xFF}"


def _ga(raw: int) -> str:
    return f"{raw >> 11}/{(raw >> 8) & 0x07}/{raw & 0xFF}"


def parse_tpdu(src: int, dst: int, is_group: bool, tpdu: bytes) -> BusTelegram | None:
    """Decode a group T_Data_Group TPDU (TPCI/APCI octets + data)."""
    if not is_group or len(tpdu) < 2:
        return None
    apci = ((tpdu[0] & 0x03) << 2) | (tpdu[1] >> 6)
    if len(tpdu) == 2:
        payload, small = bytes([tpdu[1] & 0x3F]), True
    else:
        payload, small = bytes(tpdu[2:]), False
    if apci == 0:
        payload = b""
    return BusTelegram(_ia(src), _ga(dst), APCI_NAMES.get(apci, f"apci-{apci}"), payload, small)


def parse_routing_indication(data: bytes) -> BusTelegram | None:
    """KNXnet/IP ROUTING_INDICATION (0x0530) -> cEMI L_Data -> BusTelegram."""
    if len(data) < 6 or data[0] != 6 or struct.unpack("!H", data[2:4])[0] != 0x0530:
        return None
    cemi = data[6:]
    if len(cemi) < 2 or cemi[0] not in (0x11, 0x29, 0x2E):  # L_Data.req/.ind/.con
        return None
    info_len = cemi[1]
    ldata = cemi[2 + info_len :]
    if len(ldata) < 7:
        return None
    ctrl2 = ldata[1]
    src, dst = struct.unpack("!HH", ldata[2:6])
    npdu_len = ldata[6]
    tpdu = ldata[7 : 7 + npdu_len + 1]
    return parse_tpdu(src, dst, bool(ctrl2 & 0x80), tpdu)


def parse_tp1_frame(frame: bytes) -> BusTelegram | None:
    """A standard TP1 L_Data frame as ``knxtool vbusmonitor1`` prints it (with checksum)."""
    if len(frame) < 8 or frame[0] & 0xD3 != 0x90:  # standard frame control octet 10r1pp00
        return None
    src, dst = struct.unpack("!HH", frame[1:5])
    drl = frame[5]
    length = drl & 0x0F
    tpdu = frame[6 : 6 + length + 1]
    return parse_tpdu(src, dst, bool(drl & 0x80), tpdu)


class _Collector:
    """Thread-safe list of BusTelegrams with waiting helpers (sync and async)."""

    def __init__(self) -> None:
        self._items: list[BusTelegram] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _add(self, telegram: BusTelegram) -> None:
        with self._lock:
            self._items.append(telegram)
        log.debug("%s saw %s", type(self).__name__, telegram)

    def telegrams(
        self, ga: str | None = None, service: str | None = "write", since: float = 0.0
    ) -> list[BusTelegram]:
        with self._lock:
            items = list(self._items)
        return [
            t
            for t in items
            if (ga is None or t.ga == ga)
            and (service is None or t.service == service)
            and t.at >= since
        ]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def wait_for(
        self, predicate: Callable[[list[BusTelegram]], bool], timeout: float = 3.0, **filters: str
    ) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.telegrams(**filters)):
                return True
            time.sleep(0.02)
        return predicate(self.telegrams(**filters))

    async def async_wait_for(
        self, predicate: Callable[[list[BusTelegram]], bool], timeout: float = 3.0, **filters: str
    ) -> bool:
        import asyncio

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.telegrams(**filters)):
                return True
            await asyncio.sleep(0.02)
        return predicate(self.telegrams(**filters))

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None

    def __enter__(self) -> _Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MulticastMonitor(_Collector):
    """Every ROUTING_INDICATION on ``224.0.23.12:port`` over loopback, knxd up or down."""

    def __init__(self, port: int, group: str = MULTICAST_GROUP) -> None:
        super().__init__()
        self.port = port
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((group, port))
        mreq = socket.inet_aton(group) + socket.inet_aton("127.0.0.1")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        sock.setblocking(False)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="multicast-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if not ready:
                continue
            with contextlib.suppress(BlockingIOError):
                data = self._sock.recv(2048)
                telegram = parse_routing_indication(data)
                if telegram is not None:
                    self._add(telegram)

    def close(self) -> None:
        super().close()
        self._sock.close()


class KnxtoolMonitor(_Collector):
    """``knxtool vbusmonitor1 local:SOCK``: what knxd itself put on its (dummy) bus."""

    def __init__(self, sock: Path) -> None:
        super().__init__()
        if KNXTOOL is None:
            raise RuntimeError("knxtool is not installed (apt-get install knxd-tools)")
        cmd = [KNXTOOL, "vbusmonitor1", f"local:{sock}"]
        if stdbuf := shutil.which("stdbuf"):  # knxtool's stdout is block-buffered on a pipe
            cmd = [stdbuf, "-oL", *cmd]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        self._thread = threading.Thread(target=self._run, name="knxtool-monitor", daemon=True)
        self._thread.start()
        time.sleep(0.2)  # let it attach before the test sends anything

    def _run(self) -> None:
        assert self.proc.stdout is not None
        for raw_line in self.proc.stdout:
            line = raw_line.decode(errors="replace")
            # "L_Busmon: BC 00 04 09 01 E1 00 81 2F :L_Data low from 0.0.4 to 1/1/1 ..."
            if not line.startswith("L_Busmon:") or ":" not in line[9:]:
                continue
            hex_part = line[9:].split(":", 1)[0]
            try:
                frame = bytes.fromhex(hex_part)
            except ValueError:
                continue
            telegram = parse_tp1_frame(frame)
            if telegram is not None:
                self._add(telegram)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=3)
        super().close()


@contextlib.contextmanager
def running_knxd(workdir: Path, port: int | None = None) -> Iterator[Knxd]:
    daemon = Knxd(port or free_port(), workdir)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def environment_problem() -> str | None:
    """Why knxd tests cannot run here, or None."""
    if KNXD is None:
        return "knxd is not installed (scripts/setup.sh installs it: apt-get install knxd)"
    if KNXTOOL is None:
        return "knxtool is not installed (apt-get install knxd-tools)"
    if not hasattr(os, "fork"):
        return "knxd tests need a POSIX system"
    return None
