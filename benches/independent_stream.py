"""A second, independent ECS event stream for the engine throughput benchmark (issue 14).

Written for this benchmark alone: it shares no code, catalogue or scenario
with ``kestrel.synth`` / ``kestrel.synth_scenarios`` (where the bundled
example stream comes from).

The stream has two parts, interleaved in one time-ordered NDJSON file:

* **Background activity** of a fleet of ~7,500 hosts (Windows workstations
  and servers, Linux servers, Macs), each with its own users, reported
  either as Elastic Defend events or, for some Windows hosts, as Sysmon
  events shipped by Winlogbeat: process starts with real-looking command
  lines, network connections, DNS lookups, file writes, registry writes,
  DLL loads, logons and group changes. The values are composed per event
  (user folders, project names, temporary file names, GUIDs, domains,
  addresses), so few events repeat.
* **Rule-derived activity**: events built from the corpus rules' own
  conditions. Each rule's compiled IR (``kestrel.compile``) is solved for
  an event that makes it true: a small randomised solver walks the
  predicate (``and``/``or``/``not``, comparisons, sets, wildcards,
  ``stringContains``/``startsWith``/``endsWith``/``cidrMatch``, null
  tests), picks a branch of each ``or``, instantiates wildcards with
  plausible text and keeps what the negations exclude out. Every solution
  is checked with the reference interpreter
  (``kestrel.reference.interpreter``) before it is used. A solution fixes only
  the fields its rule reads; each use lays them over fresh background
  activity of a host of the right OS, so derived events vary in everything
  the rule does not look at. A sequence's steps follow each other within a
  few events (tens of milliseconds, under every corpus maxspan), joined on
  fresh values of their join keys; its missing (``!``) and ``until`` steps
  get no event. Sample rules, and the few rules the solver cannot satisfy
  (regular expressions, most function calls), get no derived events.

The share of rule-derived activity (:data:`DERIVED_SHARE`) is tuned so that,
with all 1,024 corpus rules loaded, 20-30% of events raise at least one
alert: events that appear in at least one alert's evidence / events (23%
for 50,000 events with seed 7; about a third of it from sequence alerts).
Every event carries a unique ``event.sequence``, by which :func:`alert_rate`
traces alerts back to events. ``--measure`` prints the figures.

    python benches/independent_stream.py OUT.ndjson --events 50000 [--seed 7] [--measure]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from kestrel.bench.compare import default_corpus

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 7

#: Probability that an event slot starts a rule-derived instance (an event
#: rule's event or a sequence's steps). Tuned for 20-30% of events alerting
#: with all corpus rules loaded.
DERIVED_SHARE = 0.17

#: Hosts in the fleet: comfortably over 5,000 distinct host.id in 50k events.
FLEET = 7_500

#: 2026-02-09T13:00:00Z, in epoch milliseconds.
START_MS = 1_770_642_000_000


def corpus_path() -> Path:
    """The rule corpus the stream is built to trigger (where `kestrel bench` looks for it)."""
    return default_corpus()


# =============================================================================
# Vocabulary
# =============================================================================

# fmt: off
FIRST = ("james", "maria", "wei", "fatima", "oleg", "priya", "lucas", "amara", "kenji", "sofia", "ahmed", "elena",
    "tomas", "grace", "ravi", "ingrid", "diego", "hana", "samuel", "leila", "marek", "chloe", "ivan", "yuki", "noah",
    "zara", "pablo", "anika", "felix", "nadia", "omar", "julia", "erik", "mei", "victor", "aisha", "bruno", "keiko",
    "liam", "sara", "arjun", "olga", "hugo", "nora", "kofi", "emma", "dmitri", "lena")
LAST = ("smith", "garcia", "chen", "okafor", "petrov", "sharma", "silva", "mensah", "tanaka", "rossi", "haddad",
    "novak", "kowalski", "brown", "nguyen", "larsen", "fernandez", "kim", "johnson", "weber", "dubois", "ivanova",
    "sato", "muller", "lopez", "patel", "andersen", "costa", "hassan", "schmidt", "jensen", "moreau", "yilmaz",
    "walker", "reyes", "fischer", "martin", "bianchi", "santos", "kumar")
DEPTS = ("FIN", "HR", "ENG", "OPS", "SALES", "MKT", "LEGAL", "IT", "RND", "SUP", "ADM", "LOG")
SITES = ("ams", "fra", "iad", "sfo", "sin", "syd", "lon", "tor", "gru", "bom")
ROLES = ("web", "api", "db", "cache", "queue", "batch", "k8s-node", "ci-runner", "bastion", "log", "mail", "vpn")
WORDS = ("report", "budget", "invoice", "roadmap", "notes", "draft", "summary", "contract", "design", "metrics",
    "plan", "review", "backup", "export", "minutes", "proposal", "forecast", "survey", "audit", "release", "payroll",
    "schedule", "inventory", "spec", "slides", "handbook", "policy", "quote", "ticket", "sprint")
PROJECTS = ("atlas", "hermes", "zephyr", "orion", "nimbus", "falcon", "quartz", "juniper", "meridian", "cobalt",
    "aurora", "sequoia", "pioneer", "tundra", "lattice", "harbor", "beacon", "summit", "vertex", "ember")
DOC_EXT = ("docx", "xlsx", "pptx", "pdf", "txt", "csv", "png", "jpg", "zip", "json", "md", "msg", "vsdx")
SERVICES = ("BITS", "wuauserv", "Dnscache", "LanmanServer", "Spooler", "WinDefend", "W32Time", "Schedule",
    "EventLog", "CryptSvc", "WinRM", "TermService", "DiagTrack", "sppsvc", "TrustedInstaller", "Dhcp")
SVCHOST_GROUPS = ("netsvcs", "LocalServiceNetworkRestricted", "DcomLaunch", "RPCSS", "LocalSystemNetworkRestricted",
    "NetworkService", "UnistackSvcGroup", "LocalService", "utcsvc", "appmodel")
TLDS = ("com", "net", "org", "io", "de", "co.uk", "fr", "nl", "cloud", "dev", "app")
SAAS = ("login.microsoftonline.com", "graph.microsoft.com", "outlook.office365.com", "teams.microsoft.com",
    "update.googleapis.com", "clients4.google.com", "www.google.com", "api.github.com", "github.com",
    "objects.githubusercontent.com", "slack.com", "edge.microsoft.com", "ctldl.windowsupdate.com",
    "settings-win.data.microsoft.com", "dl.google.com", "pypi.org", "files.pythonhosted.org", "registry.npmjs.org",
    "archive.ubuntu.com", "security.ubuntu.com", "deb.debian.org", "s3.amazonaws.com", "sts.amazonaws.com",
    "ocsp.digicert.com", "crl3.digicert.com", "zoom.us", "api.zoom.us", "apple.com", "gs.apple.com",
    "mesu.apple.com", "icloud.com", "cdn.jsdelivr.net", "fonts.gstatic.com", "docker.io", "registry-1.docker.io",
    "ntp.ubuntu.com", "time.windows.com", "wpad.corp.example")
DNS_WORDS = ("cdn", "api", "static", "img", "assets", "auth", "sso", "mail", "portal", "app", "telemetry", "edge",
    "media", "download", "sync", "status", "metrics", "files", "www", "m", "eu", "us", "ap")
COMPANY = ("acme", "globex", "initech", "umbrella", "hooli", "vandelay", "stark", "wayne", "tyrell", "soylent",
    "cyberdyne", "wonka", "gringotts", "oscorp", "aperture", "monarch", "piedpiper", "dunder", "nakatomi")
SIGNERS = ("Microsoft Windows", "Microsoft Corporation", "Google LLC", "Mozilla Corporation",
    "Zoom Video Communications, Inc.", "Adobe Inc.", "Oracle America, Inc.", "Python Software Foundation",
    "Slack Technologies, LLC", "Docker Inc", "GitHub, Inc.", "Notepad++", "Dropbox, Inc", "Apple Inc.",
    "Citrix Systems, Inc.")

# fmt: on

WIN_OS = (
    {
        "type": "windows",
        "family": "windows",
        "platform": "windows",
        "name": "Windows 10 Pro",
        "version": "22H2",
        "kernel": "22H2 (10.0.19045.4651)",
        "full": "Windows 10 Pro 22H2 (10.0.19045.4651)",
    },
    {
        "type": "windows",
        "family": "windows",
        "platform": "windows",
        "name": "Windows 11 Enterprise",
        "version": "23H2",
        "kernel": "23H2 (10.0.22631.4037)",
        "full": "Windows 11 Enterprise 23H2 (10.0.22631.4037)",
    },
    {
        "type": "windows",
        "family": "windows",
        "platform": "windows",
        "name": "Windows Server 2022 Datacenter",
        "version": "21H2",
        "kernel": "21H2 (10.0.20348.2582)",
        "full": "Windows Server 2022 Datacenter 21H2 (10.0.20348.2582)",
    },
    {
        "type": "windows",
        "family": "windows",
        "platform": "windows",
        "name": "Windows Server 2019 Standard",
        "version": "1809",
        "kernel": "1809 (10.0.17763.6054)",
        "full": "Windows Server 2019 Standard 1809 (10.0.17763.6054)",
    },
)
LINUX_OS = (
    {
        "type": "linux",
        "family": "debian",
        "platform": "ubuntu",
        "name": "Ubuntu",
        "version": "22.04.4 LTS (Jammy Jellyfish)",
        "kernel": "5.15.0-117-generic",
    },
    {
        "type": "linux",
        "family": "debian",
        "platform": "ubuntu",
        "name": "Ubuntu",
        "version": "24.04 LTS (Noble Numbat)",
        "kernel": "6.8.0-40-generic",
    },
    {
        "type": "linux",
        "family": "debian",
        "platform": "debian",
        "name": "Debian GNU/Linux",
        "version": "12 (bookworm)",
        "kernel": "6.1.0-23-amd64",
    },
    {
        "type": "linux",
        "family": "redhat",
        "platform": "rhel",
        "name": "Red Hat Enterprise Linux",
        "version": "9.4 (Plow)",
        "kernel": "5.14.0-427.24.1.el9_4.x86_64",
    },
    {
        "type": "linux",
        "family": "redhat",
        "platform": "amzn",
        "name": "Amazon Linux",
        "version": "2023",
        "kernel": "6.1.97-104.177.amzn2023.x86_64",
    },
)
MAC_OS = (
    {"type": "macos", "family": "darwin", "platform": "darwin", "name": "macOS", "version": "14.6.1", "kernel": "23.6.0"},
    {"type": "macos", "family": "darwin", "platform": "darwin", "name": "macOS", "version": "15.0", "kernel": "24.0.0"},
)


def _hex(rng: random.Random, bits: int) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def _guid(rng: random.Random) -> str:
    h = _hex(rng, 128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def _public_ip(rng: random.Random) -> str:
    while True:
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global and not address.is_multicast:
            return str(address)


# =============================================================================
# The fleet
# =============================================================================


@dataclass
class Host:
    os: str  # windows | linux | macos
    doc: Dict[str, Any]
    users: List[str]
    domain: str
    ip: str
    agent_id: str
    sysmon: bool
    sid_prefix: str
    server: bool


class Fleet:
    """Hosts, users and the addresses they talk to, drawn once per seed."""

    def __init__(self, rng: random.Random, size: int = FLEET) -> None:
        self.users = sorted({self._user(rng) for _ in range(2_600)})
        self.public_ips = [_public_ip(rng) for _ in range(4_000)]
        self.domains = [self._domain(rng) for _ in range(3_000)] + list(SAAS)
        self.hosts: List[Host] = []
        for n in range(size):
            roll = rng.random()
            kind = "windows" if roll < 0.60 else "linux" if roll < 0.90 else "macos"
            self.hosts.append(self._host(rng, n, kind))
        self.by_os = {kind: [h for h in self.hosts if h.os == kind] for kind in ("windows", "linux", "macos")}
        #: A few hundred busy servers send a fifth of the events; the rest are spread evenly.
        self.busy = [h for h in self.hosts if h.server][:300]

    @staticmethod
    def _user(rng: random.Random) -> str:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        form = rng.random()
        if form < 0.4:
            return f"{first}.{last}"
        if form < 0.7:
            return f"{first[0]}{last}"
        return f"{last}{first[0]}{rng.randint(1, 9) if rng.random() < 0.3 else ''}"

    @staticmethod
    def _domain(rng: random.Random) -> str:
        base = f"{rng.choice(COMPANY)}{rng.choice(('', '-cloud', '-cdn', 'corp', '-media', 'labs', '-it'))}.{rng.choice(TLDS)}"
        depth = rng.choice((0, 1, 1, 1, 2))
        return ".".join(
            [rng.choice(DNS_WORDS) + (str(rng.randint(1, 30)) if rng.random() < 0.2 else "") for _ in range(depth)] + [base]
        )

    def _host(self, rng: random.Random, n: int, kind: str) -> Host:
        users = [rng.choice(self.users) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
        server = False
        if kind == "windows":
            os_doc = dict(rng.choice(WIN_OS))
            server = "Server" in os_doc["name"]
            name = (
                f"{rng.choice(('SQL', 'APP', 'FS', 'DC', 'EXCH', 'RDS', 'IIS'))}-{rng.choice(SITES).upper()}-{n:04d}"
                if server
                else f"{rng.choice(DEPTS)}-{rng.choice(('WS', 'LT', 'VDI'))}-{n:04d}"
            )
            host_id = _guid(rng)
            domain = rng.choice(("CORP", "CORP", "EMEA", "AMER"))
        elif kind == "linux":
            os_doc = dict(rng.choice(LINUX_OS))
            server = True
            name = f"{rng.choice(ROLES)}-{rng.choice(('prod', 'stg', 'dev'))}-{rng.choice(SITES)}{rng.randint(1, 3)}-{n:04d}"
            host_id = _hex(rng, 128)
            domain = ""
            users = users[:1] + ["root"]
        else:
            os_doc = dict(rng.choice(MAC_OS))
            name = f"{users[0].replace('.', '-')}-{rng.choice(('mbp', 'mba', 'imac', 'studio'))}-{n:04d}"
            host_id = _guid(rng).upper()
            domain = ""
        if kind == "windows":
            full = os_doc.pop("full")
            os_doc["full"] = full
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
        doc = {
            "id": host_id,
            "name": name.lower() if kind != "windows" else name,
            "hostname": name.lower(),
            "architecture": "arm64" if kind == "macos" and rng.random() < 0.7 else "x86_64",
            "os": os_doc,
            "ip": [ip],
            "mac": ["-".join(_hex(rng, 8).upper() for _ in range(6))],
        }
        sid = f"S-1-5-21-{rng.randint(10**9, 4 * 10**9)}-{rng.randint(10**9, 4 * 10**9)}-{rng.randint(10**9, 4 * 10**9)}"
        return Host(kind, doc, users, domain, ip, _guid(rng), kind == "windows" and rng.random() < 0.3, sid, server)

    def pick(self, rng: random.Random, os_name: Optional[str] = None) -> Host:
        if os_name is not None:
            return rng.choice(self.by_os[os_name])
        if rng.random() < 0.2:
            return rng.choice(self.busy)
        return rng.choice(self.hosts)


# =============================================================================
# Background activity
# =============================================================================


@dataclass
class Ctx:
    """What one event is about: its host, user and the helpers to make values."""

    rng: random.Random
    fleet: Fleet
    host: Host
    user: str

    @property
    def home(self) -> str:
        if self.host.os == "windows":
            return f"C:\\Users\\{self.user}"
        if self.host.os == "macos":
            return f"/Users/{self.user}"
        return "/root" if self.user == "root" else f"/home/{self.user}"

    def doc_name(self) -> str:
        r = self.rng
        stem = f"{r.choice(WORDS)}_{r.choice(PROJECTS)}"
        suffix = r.choice(("", "_v2", "_final", f"_{r.randint(2019, 2026)}", f" ({r.randint(1, 9)})"))
        return f"{stem}{suffix}.{r.choice(DOC_EXT)}"

    def url(self) -> str:
        r = self.rng
        return f"https://{r.choice(self.fleet.domains)}/{r.choice(DNS_WORDS)}/{_hex(r, 32)}"


def _q(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


# Each process maker returns (name, executable, args-after-executable, parent name, parent executable, signer).
Maker = Callable[[Ctx], Tuple[str, str, List[str], str, str, Optional[str]]]
SYS32 = "C:\\Windows\\System32"


def _w_svchost(c: Ctx):
    args = ["-k", c.rng.choice(SVCHOST_GROUPS), "-p"]
    if c.rng.random() < 0.6:
        args += ["-s", c.rng.choice(SERVICES)]
    return "svchost.exe", f"{SYS32}\\svchost.exe", args, "services.exe", f"{SYS32}\\services.exe", "Microsoft Windows"


def _w_browser(c: Ctx):
    r = c.rng
    name, exe, signer = r.choice(
        (
            ("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe", "Google LLC"),
            ("msedge.exe", "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe", "Microsoft Corporation"),
            ("firefox.exe", "C:\\Program Files\\Mozilla Firefox\\firefox.exe", "Mozilla Corporation"),
        )
    )
    if r.random() < 0.3:
        return name, exe, [c.url()], "explorer.exe", "C:\\Windows\\explorer.exe", signer
    kind = r.choice(("renderer", "gpu-process", "utility", "crashpad-handler"))
    args = [
        f"--type={kind}",
        f"--field-trial-handle={r.randint(1000, 9999)},i,{r.getrandbits(60)}",
        "--lang=en-US",
        f"--mojo-platform-channel-handle={r.randint(1000, 9000)}",
        f"/prefetch:{r.randint(1, 9)}",
    ]
    return name, exe, args, name, exe, signer


def _w_office(c: Ctx):
    r = c.rng
    name = r.choice(("WINWORD.EXE", "EXCEL.EXE", "POWERPNT.EXE", "OUTLOOK.EXE", "ONENOTE.EXE"))
    exe = f"C:\\Program Files\\Microsoft Office\\root\\Office16\\{name}"
    if name == "OUTLOOK.EXE":
        args = [] if r.random() < 0.5 else ["/recycle"]
    else:
        args = ["/n", f"{c.home}\\{r.choice(('Documents', 'Downloads', 'Desktop', 'OneDrive - Contoso'))}\\{c.doc_name()}"]
    return name, exe, args, "explorer.exe", "C:\\Windows\\explorer.exe", "Microsoft Corporation"


def _w_dev(c: Ctx):
    r = c.rng
    proj = f"{c.home}\\source\\repos\\{r.choice(PROJECTS)}"
    choice = r.random()
    if choice < 0.3:
        return (
            "git.exe",
            "C:\\Program Files\\Git\\cmd\\git.exe",
            r.choice(
                (
                    ["status"],
                    ["fetch", "--prune"],
                    ["pull", "--rebase"],
                    ["log", "-n", "20", "--oneline"],
                    ["commit", "-m", f"{r.choice(WORDS)} {r.choice(PROJECTS)}"],
                    ["diff", "HEAD~1"],
                )
            ),
            "Code.exe",
            f"{c.home}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
            "GitHub, Inc.",
        )
    if choice < 0.55:
        return (
            "python.exe",
            f"{c.home}\\AppData\\Local\\Programs\\Python\\Python312\\python.exe",
            [
                f"{proj}\\{r.choice(('manage', 'train', 'etl', 'report', 'main'))}.py",
                f"--{r.choice(('config', 'input', 'env'))}",
                r.choice(("dev", "prod.yaml", f"{r.choice(WORDS)}.csv")),
            ],
            "Code.exe",
            f"{c.home}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
            "Python Software Foundation",
        )
    if choice < 0.75:
        return (
            "node.exe",
            "C:\\Program Files\\nodejs\\node.exe",
            [f"{proj}\\node_modules\\.bin\\{r.choice(('vite', 'jest', 'tsc', 'eslint'))}", r.choice(("--watch", "build", "."))],
            "Code.exe",
            f"{c.home}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
            None,
        )
    return (
        "dotnet.exe",
        "C:\\Program Files\\dotnet\\dotnet.exe",
        [
            r.choice(("build", "test", "run")),
            f"{proj}\\{r.choice(PROJECTS).title()}.csproj",
            "-c",
            r.choice(("Debug", "Release")),
        ],
        "devenv.exe",
        "C:\\Program Files\\Microsoft Visual Studio\\2022\\Professional\\Common7\\IDE\\devenv.exe",
        "Microsoft Corporation",
    )


def _w_system(c: Ctx):
    r = c.rng
    pick = r.randrange(9)
    if pick == 0:
        return (
            "RuntimeBroker.exe",
            f"{SYS32}\\RuntimeBroker.exe",
            ["-Embedding"],
            "svchost.exe",
            f"{SYS32}\\svchost.exe",
            "Microsoft Windows",
        )
    if pick == 1:
        return (
            "dllhost.exe",
            f"{SYS32}\\dllhost.exe",
            [f"/Processid:{{{_guid(r).upper()}}}"],
            "svchost.exe",
            f"{SYS32}\\svchost.exe",
            "Microsoft Windows",
        )
    if pick == 2:
        return (
            "conhost.exe",
            f"{SYS32}\\conhost.exe",
            ["0xffffffff", "-ForceV1"],
            "svchost.exe",
            f"{SYS32}\\svchost.exe",
            "Microsoft Windows",
        )
    if pick == 3:
        return (
            "backgroundTaskHost.exe",
            f"{SYS32}\\backgroundTaskHost.exe",
            [f"-ServerName:App.AppX{_hex(r, 64)}.mca"],
            "svchost.exe",
            f"{SYS32}\\svchost.exe",
            "Microsoft Windows",
        )
    if pick == 4:
        return (
            "SearchProtocolHost.exe",
            f"{SYS32}\\SearchProtocolHost.exe",
            [
                f"Global\\UsGthrFltPipeMssGthrPipe{r.randint(1, 400)}_",
                f"Global\\UsGthrCtrlFltPipeMssGthrPipe{r.randint(1, 400)}",
                "1",
                "-2147483646",
            ],
            "SearchIndexer.exe",
            f"{SYS32}\\SearchIndexer.exe",
            "Microsoft Windows",
        )
    if pick == 5:
        return (
            "taskhostw.exe",
            f"{SYS32}\\taskhostw.exe",
            [r.choice(("", "Install $(Arg0)", "KEYROAMING"))],
            "svchost.exe",
            f"{SYS32}\\svchost.exe",
            "Microsoft Windows",
        )
    if pick == 6:
        version = f"4.18.{r.randint(24000, 24090)}.{r.randint(1, 9)}"
        return (
            "MpCmdRun.exe",
            f"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\{version}-0\\MpCmdRun.exe",
            ["-wdenable"] if r.random() < 0.5 else ["SignaturesUpdateService", "-ScheduleJob", "-UnmanagedUpdate"],
            "MsMpEng.exe",
            f"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\{version}-0\\MsMpEng.exe",
            "Microsoft Corporation",
        )
    if pick == 7:
        return (
            "OneDrive.exe",
            f"{c.home}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
            ["/background"],
            "explorer.exe",
            "C:\\Windows\\explorer.exe",
            "Microsoft Corporation",
        )
    return (
        "Teams.exe",
        f"{c.home}\\AppData\\Local\\Microsoft\\Teams\\current\\Teams.exe",
        [f"--type={r.choice(('renderer', 'gpu-process'))}", "--autostart"],
        "explorer.exe",
        "C:\\Windows\\explorer.exe",
        "Microsoft Corporation",
    )


def _w_apps(c: Ctx):
    r = c.rng
    pick = r.randrange(6)
    if pick == 0:
        return (
            "notepad.exe",
            f"{SYS32}\\notepad.exe",
            [f"{c.home}\\Desktop\\{r.choice(WORDS)}.txt"],
            "explorer.exe",
            "C:\\Windows\\explorer.exe",
            "Microsoft Windows",
        )
    if pick == 1:
        return (
            "Zoom.exe",
            f"{c.home}\\AppData\\Roaming\\Zoom\\bin\\Zoom.exe",
            [f"--url=zoommtg://zoom.us/join?confno={r.randint(10**9, 10**10)}"],
            "explorer.exe",
            "C:\\Windows\\explorer.exe",
            "Zoom Video Communications, Inc.",
        )
    if pick == 2:
        return (
            "AcroRd32.exe",
            "C:\\Program Files\\Adobe\\Acrobat DC\\Acrobat\\Acrobat.exe",
            [f"{c.home}\\Downloads\\{r.choice(WORDS)}-{r.randint(100, 999)}.pdf"],
            "explorer.exe",
            "C:\\Windows\\explorer.exe",
            "Adobe Inc.",
        )
    if pick == 3:
        return (
            "slack.exe",
            f"{c.home}\\AppData\\Local\\slack\\app-4.{r.randint(35, 41)}.{r.randint(100, 140)}\\slack.exe",
            ["--process-start-args", "--startup"],
            "explorer.exe",
            "C:\\Windows\\explorer.exe",
            "Slack Technologies, LLC",
        )
    if pick == 4:
        return (
            "mstsc.exe",
            f"{SYS32}\\mstsc.exe",
            [f"/v:{r.choice(SITES).upper()}-RDS-{r.randint(1, 40):02d}.corp.example"],
            "explorer.exe",
            "C:\\Windows\\explorer.exe",
            "Microsoft Windows",
        )
    return (
        "Dropbox.exe",
        "C:\\Program Files (x86)\\Dropbox\\Client\\Dropbox.exe",
        ["/systemstartup"],
        "explorer.exe",
        "C:\\Windows\\explorer.exe",
        "Dropbox, Inc",
    )


def _w_server(c: Ctx):
    r = c.rng
    pick = r.randrange(5)
    if pick == 0:
        return (
            "sqlservr.exe",
            "C:\\Program Files\\Microsoft SQL Server\\MSSQL16.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe",
            ["-sMSSQLSERVER"],
            "services.exe",
            f"{SYS32}\\services.exe",
            "Microsoft Corporation",
        )
    if pick == 1:
        return (
            "w3wp.exe",
            f"{SYS32}\\inetsrv\\w3wp.exe",
            ["-ap", f"{r.choice(PROJECTS).title()}AppPool", "-v", "v4.0", "-l", "webengine4.dll"],
            "svchost.exe",
            f"{SYS32}\\svchost.exe",
            "Microsoft Windows",
        )
    if pick == 2:
        return (
            "java.exe",
            "C:\\Program Files\\Eclipse Adoptium\\jdk-17.0.12.7-hotspot\\bin\\java.exe",
            [f"-Xmx{r.choice((2, 4, 8))}g", "-jar", f"D:\\apps\\{r.choice(PROJECTS)}\\{r.choice(PROJECTS)}-service.jar"],
            "services.exe",
            f"{SYS32}\\services.exe",
            "Oracle America, Inc.",
        )
    if pick == 3:
        return (
            "wmiprvse.exe",
            f"{SYS32}\\wbem\\wmiprvse.exe",
            ["-secured", "-Embedding"],
            "svchost.exe",
            f"{SYS32}\\svchost.exe",
            "Microsoft Windows",
        )
    return (
        "TiWorker.exe",
        f"C:\\Windows\\WinSxS\\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.20348.{r.randint(2000, 2600)}_none_{_hex(r, 64)}\\TiWorker.exe",
        ["-Embedding"],
        "svchost.exe",
        f"{SYS32}\\svchost.exe",
        "Microsoft Windows",
    )


WIN_MAKERS: Tuple[Tuple[Maker, float], ...] = (
    (_w_svchost, 3),
    (_w_browser, 4),
    (_w_office, 2),
    (_w_dev, 1.5),
    (_w_system, 4),
    (_w_apps, 2),
    (_w_server, 1),
)


def _l_service(c: Ctx):
    r = c.rng
    pick = r.randrange(8)
    if pick == 0:
        return ("nginx", "/usr/sbin/nginx", ["-g", "daemon on; master_process on;"], "systemd", "/usr/lib/systemd/systemd", None)
    if pick == 1:
        app = r.choice(PROJECTS)
        return (
            "java",
            "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
            [
                f"-Xms{r.choice((512, 1024))}m",
                f"-Xmx{r.choice((2, 4))}g",
                "-Dspring.profiles.active=prod",
                "-jar",
                f"/opt/{app}/{app}-{r.randint(1, 4)}.{r.randint(0, 20)}.jar",
            ],
            "systemd",
            "/usr/lib/systemd/systemd",
            None,
        )
    if pick == 2:
        return (
            "postgres",
            "/usr/lib/postgresql/16/bin/postgres",
            ["-D", "/var/lib/postgresql/16/main", "-c", "config_file=/etc/postgresql/16/main/postgresql.conf"],
            "systemd",
            "/usr/lib/systemd/systemd",
            None,
        )
    if pick == 3:
        return (
            "containerd-shim-runc-v2",
            "/usr/bin/containerd-shim-runc-v2",
            ["-namespace", "k8s.io", "-id", _hex(r, 256), "-address", "/run/containerd/containerd.sock"],
            "systemd",
            "/usr/lib/systemd/systemd",
            None,
        )
    if pick == 4:
        return (
            "gunicorn",
            "/opt/venv/bin/python3",
            [
                "/opt/venv/bin/gunicorn",
                "-w",
                str(r.choice((2, 4, 8))),
                "-b",
                f"0.0.0.0:{r.choice((8000, 8080, 5000))}",
                f"{r.choice(PROJECTS)}.wsgi:application",
            ],
            "systemd",
            "/usr/lib/systemd/systemd",
            None,
        )
    if pick == 5:
        return (
            "node",
            "/usr/bin/node",
            [f"/srv/{r.choice(PROJECTS)}/dist/server.js", "--port", str(r.choice((3000, 8081, 9000)))],
            "systemd",
            "/usr/lib/systemd/systemd",
            None,
        )
    if pick == 6:
        return ("logrotate", "/usr/sbin/logrotate", ["/etc/logrotate.conf"], "systemd", "/usr/lib/systemd/systemd", None)
    return (
        "apt-check",
        "/usr/lib/update-notifier/apt-check",
        ["--human-readable"],
        "update-motd-upd",
        "/etc/update-motd.d/90-updates-available",
        None,
    )


def _l_shell(c: Ctx):
    r = c.rng
    user_dir = c.home
    svc = r.choice(PROJECTS)
    commands = (
        ("ls", "/usr/bin/ls", ["-la", r.choice((user_dir, "/var/log", f"/opt/{svc}", "/etc/nginx/sites-enabled"))]),
        (
            "grep",
            "/usr/bin/grep",
            ["-i", r.choice(("error", "timeout", "refused", svc)), f"/var/log/{svc}/{r.choice(('app', 'access', 'error'))}.log"],
        ),
        ("tail", "/usr/bin/tail", ["-n", str(r.choice((50, 100, 200))), "-f", f"/var/log/{svc}/app.log"]),
        (
            "git",
            "/usr/bin/git",
            r.choice(
                (
                    ["pull", "origin", "main"],
                    ["status", "--short"],
                    ["log", "--oneline", "-10"],
                    ["checkout", f"feature/{r.choice(WORDS)}"],
                )
            ),
        ),
        ("vim", "/usr/bin/vim.basic", [f"/etc/{svc}/config.yaml"]),
        ("df", "/usr/bin/df", ["-h"]),
        ("du", "/usr/bin/du", ["-sh", f"/var/lib/{svc}"]),
        (
            "python3",
            "/usr/bin/python3.12",
            [f"{user_dir}/scripts/{r.choice(WORDS)}_{r.choice(('sync', 'check', 'export'))}.py", "--dry-run"],
        ),
        ("tar", "/usr/bin/tar", ["-czf", f"/var/backups/{svc}-{r.randint(20260101, 20260209)}.tar.gz", f"/srv/{svc}/data"]),
        ("systemctl", "/usr/bin/systemctl", [r.choice(("status", "restart", "reload")), f"{svc}.service"]),
        ("journalctl", "/usr/bin/journalctl", ["-u", f"{svc}.service", "--since", "1 hour ago"]),
        (
            "psql",
            "/usr/bin/psql",
            ["-h", "localhost", "-U", svc, "-d", f"{svc}_db", "-c", f"SELECT count(*) FROM {r.choice(WORDS)}s;"],
        ),
        ("kubectl", "/usr/local/bin/kubectl", ["get", r.choice(("pods", "svc", "deploy")), "-n", svc]),
        (
            "docker",
            "/usr/bin/docker",
            [r.choice(("ps", "images", "logs")), *(["--tail", "100", f"{svc}-web-1"] if r.random() < 0.3 else [])],
        ),
    )
    name, exe, args = r.choice(commands)
    shell = r.choice(("bash", "zsh")) if c.user != "root" or r.random() < 0.5 else "bash"
    return name, exe, args, shell, f"/usr/bin/{shell}", None


def _l_cron(c: Ctx):
    r = c.rng
    svc = r.choice(PROJECTS)
    script = f"/opt/{svc}/bin/{r.choice(('cleanup', 'rotate', 'report', 'sync', 'healthcheck'))}.sh"
    return "sh", "/usr/bin/dash", ["-c", f"{script} >> /var/log/{svc}/cron.log 2>&1"], "cron", "/usr/sbin/cron", None


LINUX_MAKERS: Tuple[Tuple[Maker, float], ...] = ((_l_service, 3), (_l_shell, 4), (_l_cron, 1.5))


def _m_any(c: Ctx):
    r = c.rng
    pick = r.randrange(7)
    if pick == 0:
        return (
            "mdworker_shared",
            "/System/Library/Frameworks/CoreServices.framework/Versions/A/Frameworks/Metadata.framework/Versions/A/Support/mdworker_shared",
            ["-s", "mdworker", "-c", "MDSImporterWorker", "-m", "com.apple.mdworker.shared"],
            "launchd",
            "/sbin/launchd",
            "Software Signing",
        )
    if pick == 1:
        return (
            "Google Chrome Helper (Renderer)",
            "/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/128.0.6613.120/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer)",
            ["--type=renderer", f"--renderer-client-id={r.randint(5, 400)}", "--lang=en-US"],
            "Google Chrome",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            "Developer ID Application: Google LLC (EQHXZ8M8AV)",
        )
    if pick == 2:
        return (
            "zsh",
            "/bin/zsh",
            ["-l"],
            "Terminal",
            "/System/Applications/Utilities/Terminal.app/Contents/MacOS/Terminal",
            "Software Signing",
        )
    if pick == 3:
        return (
            "git",
            "/Applications/Xcode.app/Contents/Developer/usr/bin/git",
            ["fetch", "--all"],
            "zsh",
            "/bin/zsh",
            "Software Signing",
        )
    if pick == 4:
        return (
            "softwareupdated",
            "/System/Library/PrivateFrameworks/MobileSoftwareUpdate.framework/Support/softwareupdated",
            [],
            "launchd",
            "/sbin/launchd",
            "Software Signing",
        )
    if pick == 5:
        return (
            "Slack Helper",
            "/Applications/Slack.app/Contents/Frameworks/Slack Helper.app/Contents/MacOS/Slack Helper",
            ["--type=utility"],
            "Slack",
            "/Applications/Slack.app/Contents/MacOS/Slack",
            "Developer ID Application: Slack Technologies, Inc. (BQR82RBBHL)",
        )
    return (
        "python3",
        "/opt/homebrew/bin/python3",
        [f"{c.home}/code/{r.choice(PROJECTS)}/{r.choice(('main', 'notebook', 'scrape'))}.py"],
        "zsh",
        "/bin/zsh",
        None,
    )


MAC_MAKERS: Tuple[Tuple[Maker, float], ...] = ((_m_any, 1),)
MAKERS = {"windows": WIN_MAKERS, "linux": LINUX_MAKERS, "macos": MAC_MAKERS}


class Background:
    """Background events: one host's ordinary activity per call."""

    def __init__(self, rng: random.Random, fleet: Fleet) -> None:
        self.rng = rng
        self.fleet = fleet
        self.makers = {os_name: ([m for m, _ in makers], [w for _, w in makers]) for os_name, makers in MAKERS.items()}
        self.kinds = {
            "windows": (
                ("process", 30),
                ("network", 16),
                ("dns", 12),
                ("file", 20),
                ("registry", 12),
                ("library", 6),
                ("authentication", 3),
                ("iam", 0.3),
            ),
            "linux": (("process", 40), ("network", 22), ("dns", 8), ("file", 24), ("authentication", 5), ("iam", 0.5)),
            "macos": (("process", 40), ("network", 20), ("dns", 15), ("file", 25)),
        }

    def context(self, host: Optional[Host] = None, os_name: Optional[str] = None) -> Ctx:
        host = host or self.fleet.pick(self.rng, os_name)
        user = self.rng.choice(host.users)
        if host.os == "windows" and self.rng.random() < 0.25:
            user = self.rng.choice(("SYSTEM", "NETWORK SERVICE", "LOCAL SERVICE"))
        return Ctx(self.rng, self.fleet, host, user)

    def event(self, ctx: Ctx, kind: Optional[str] = None) -> Dict[str, Any]:
        r = self.rng
        if kind is None:
            names, weights = zip(*self.kinds[ctx.host.os])
            kind = r.choices(names, weights)[0]
        elif kind not in dict(self.kinds[ctx.host.os]):
            kind = "process"
        return getattr(self, f"_{kind}")(ctx)

    # -- the event frame -------------------------------------------------------

    def _frame(
        self, ctx: Ctx, category: str, types: List[str], action: str, dataset: str, sysmon_code: Optional[int] = None
    ) -> Dict[str, Any]:
        host = ctx.host
        r = self.rng
        sysmon = host.sysmon and sysmon_code is not None
        event: Dict[str, Any] = {
            "agent": (
                {"type": "winlogbeat", "version": "8.15.0", "id": host.agent_id}
                if sysmon
                else {"type": "endpoint", "version": "8.15.2", "id": host.agent_id}
            ),
            "ecs": {"version": "8.11.0"},
        }
        if sysmon:
            event["data_stream"] = {"dataset": "windows.sysmon_operational", "namespace": "default", "type": "logs"}
            event["event"] = {
                "kind": "event",
                "category": [category],
                "type": types,
                "action": action,
                "code": str(sysmon_code),
                "provider": "Microsoft-Windows-Sysmon",
                "module": "sysmon",
                "dataset": "windows.sysmon_operational",
                "id": _guid(r),
            }
            event["winlog"] = {
                "channel": "Microsoft-Windows-Sysmon/Operational",
                "event_id": str(sysmon_code),
                "computer_name": f"{host.doc['name']}.corp.example",
                "record_id": r.randint(10**5, 10**8),
                "provider_name": "Microsoft-Windows-Sysmon",
            }
        else:
            event["data_stream"] = {"dataset": dataset, "namespace": "default", "type": "logs"}
            event["event"] = {
                "kind": "event",
                "category": [category],
                "type": types,
                "action": action,
                "module": "endpoint",
                "dataset": dataset,
                "id": _hex(r, 96),
            }
        event["host"] = host.doc
        user: Dict[str, Any] = {"name": ctx.user}
        if host.os == "windows":
            user["domain"] = "NT AUTHORITY" if ctx.user in ("SYSTEM", "NETWORK SERVICE", "LOCAL SERVICE") else host.domain
            user["id"] = "S-1-5-18" if ctx.user == "SYSTEM" else f"{host.sid_prefix}-{1000 + hash_user(ctx.user) % 9000}"
        else:
            user["id"] = "0" if ctx.user == "root" else str(1000 + hash_user(ctx.user) % 3000)
        event["user"] = user
        return event

    def _process_doc(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        makers, weights = self.makers[ctx.host.os]
        name, exe, args, parent_name, parent_exe, signer = r.choices(makers, weights)[0](ctx)
        argv = [exe] + [a for a in args if a != ""]
        pid = r.randint(300, 65000) if ctx.host.os == "windows" else r.randint(1000, 4_000_000)
        parent_pid = r.randint(4, 64000)
        proc: Dict[str, Any] = {
            "pid": pid,
            "entity_id": _hex(r, 120),
            "name": name,
            "executable": exe,
            "command_line": " ".join(_q(a) for a in argv),
            "args": argv,
            "args_count": len(argv),
            "working_directory": (
                ctx.home if r.random() < 0.5 else ("C:\\Windows\\system32\\" if ctx.host.os == "windows" else "/")
            ),
            "parent": {
                "pid": parent_pid,
                "entity_id": _hex(r, 120),
                "name": parent_name,
                "executable": parent_exe,
                "command_line": _q(parent_exe),
                "args": [parent_exe],
                "args_count": 1,
            },
        }
        if ctx.host.os == "windows":
            proc["pe"] = {
                "original_file_name": name.upper() if name.endswith(".EXE") else name,
                "company": "Microsoft Corporation" if signer and "Microsoft" in signer else (signer or ""),
            }
            proc["Ext"] = {
                "token": {
                    "integrity_level_name": (
                        "system"
                        if ctx.user in ("SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE")
                        else r.choice(("medium", "medium", "high"))
                    )
                }
            }
        if signer is not None:
            proc["code_signature"] = {"subject_name": signer, "trusted": True, "exists": True, "status": "trusted"}
        elif ctx.host.os != "linux":
            proc["code_signature"] = {"exists": False}
        return proc

    # -- kinds -----------------------------------------------------------------

    def _process(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        if ctx.host.os == "windows":
            types, action = (["start"], "start") if r.random() < 0.8 else (["end"], "end")
        elif ctx.host.os == "linux":
            roll = r.random()
            types, action = (["start"], "exec") if roll < 0.6 else (["start"], "fork") if roll < 0.75 else (["end"], "end")
        else:
            types, action = (["start"], "exec") if r.random() < 0.8 else (["end"], "end")
        event = self._frame(ctx, "process", types, action, "endpoint.events.process", 1 if types == ["start"] else 5)
        if "provider" in event["event"]:
            event["event"]["action"] = (
                "Process Create (rule: ProcessCreate)" if types == ["start"] else "Process terminated (rule: ProcessTerminate)"
            )
        event["process"] = self._process_doc(ctx)
        return event

    def _network(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        outgoing = r.random() < 0.8
        port, transport, protocol = r.choice(
            (
                (443, "tcp", "tls"),
                (443, "tcp", "tls"),
                (80, "tcp", "http"),
                (22, "tcp", "ssh"),
                (5432, "tcp", None),
                (3389, "tcp", "rdp"),
                (445, "tcp", "smb"),
                (123, "udp", "ntp"),
                (8443, "tcp", "tls"),
                (9200, "tcp", "http"),
                (6443, "tcp", "tls"),
            )
        )
        remote = (
            r.choice(self.fleet.public_ips)
            if r.random() < 0.7
            else f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(2, 254)}"
        )
        action = r.choice(("connection_attempted", "connection_accepted", "disconnect_received"))
        event = self._frame(
            ctx, "network", ["start"] if "disconnect" not in action else ["end"], action, "endpoint.events.network", 3
        )
        if "provider" in event["event"]:
            event["event"]["action"] = "Network connection detected (rule: NetworkConnect)"
        ephemeral = r.randint(49152, 65535)
        local = {"ip": ctx.host.ip, "port": ephemeral if outgoing else port}
        far = {"ip": remote, "port": port if outgoing else ephemeral}
        event["source"], event["destination"] = (local, far) if outgoing else (far, local)
        event["network"] = {"direction": "egress" if outgoing else "ingress", "transport": transport, "type": "ipv4"}
        if protocol:
            event["network"]["protocol"] = protocol
        event["process"] = self._light_process(ctx)
        return event

    def _light_process(self, ctx: Ctx) -> Dict[str, Any]:
        proc = self._process_doc(ctx)
        return {key: proc[key] for key in ("pid", "entity_id", "name", "executable") if key in proc}

    def _dns(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        event = self._frame(ctx, "network", ["protocol", "info"], "lookup_result", "endpoint.events.network", 22)
        if "provider" in event["event"]:
            event["event"]["action"] = "Dns query (rule: DnsQuery)"
        name = r.choice(self.fleet.domains)
        qtype = r.choice(("A", "A", "A", "AAAA", "CNAME", "TXT", "SRV"))
        event["dns"] = {
            "question": {"name": name, "type": qtype, "registered_domain": ".".join(name.split(".")[-2:])},
            "resolved_ip": [r.choice(self.fleet.public_ips) for _ in range(r.choice((1, 1, 2, 4)))],
        }
        event["network"] = {"protocol": "dns", "transport": "udp", "direction": "egress"}
        event["process"] = self._light_process(ctx)
        return event

    def _file(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        action = r.choice(("creation", "modification", "modification", "deletion", "rename", "overwrite"))
        types = {
            "creation": ["creation"],
            "modification": ["change"],
            "deletion": ["deletion"],
            "rename": ["change"],
            "overwrite": ["change"],
        }[action]
        event = self._frame(
            ctx,
            "file",
            types,
            action,
            "endpoint.events.file",
            11 if action == "creation" else 23 if action == "deletion" else None,
        )
        if "provider" in event["event"]:
            event["event"]["action"] = (
                "File created (rule: FileCreate)" if action == "creation" else "File Delete archived (rule: FileDelete)"
            )
        if ctx.host.os == "windows":
            folder = r.choice(
                (
                    f"{ctx.home}\\Documents\\{r.choice(PROJECTS)}",
                    f"{ctx.home}\\Downloads",
                    f"{ctx.home}\\AppData\\Local\\Temp",
                    f"{ctx.home}\\AppData\\Roaming\\Microsoft\\Office\\Recent",
                    f"{ctx.home}\\AppData\\Local\\Google\\Chrome\\User Data\\Default\\Cache\\Cache_Data",
                    "C:\\Windows\\Prefetch",
                    f"C:\\ProgramData\\{r.choice(COMPANY).title()}\\logs",
                    f"D:\\shares\\{r.choice(DEPTS).lower()}\\{r.choice(PROJECTS)}",
                )
            )
            sep = "\\"
            if folder.endswith("Prefetch"):
                name = f"{r.choice(('CHROME', 'MSEDGE', 'WINWORD', 'SVCHOST', 'TEAMS', 'ONEDRIVE'))}.EXE-{_hex(r, 32).upper()}.pf"
            elif folder.endswith("Temp") or "Cache" in folder:
                name = f"{r.choice(('~DF', 'tmp', 'f_', 'chrome_'))}{_hex(r, 24).upper()}{r.choice(('.tmp', '', '.TMP', '.log'))}"
            else:
                name = ctx.doc_name()
        else:
            folder = r.choice(
                (
                    f"{ctx.home}/.cache/{r.choice(('pip', 'go-build', 'yarn', 'thumbnails'))}",
                    f"/var/log/{r.choice(PROJECTS)}",
                    f"/srv/{r.choice(PROJECTS)}/data/{r.randint(2024, 2026)}",
                    "/tmp",
                    f"/var/lib/{r.choice(('docker/overlay2', 'postgresql/16/main/base', 'apt/lists'))}",
                    f"{ctx.home}/Documents" if ctx.host.os == "macos" else f"{ctx.home}/work",
                )
            )
            sep = "/"
            name = (
                f"{r.choice(('app', 'access', 'error', 'gc'))}.log{r.choice(('', '.1', '.2.gz'))}"
                if folder.startswith("/var/log")
                else (
                    f"{_hex(r, 40)}"
                    if "cache" in folder or "lib" in folder
                    else f"tmp{_hex(r, 32)[:8]}"
                    if folder == "/tmp"
                    else ctx.doc_name()
                )
            )
        path = f"{folder}{sep}{name}"
        stem, dot, ext = name.rpartition(".")
        event["file"] = {"path": path, "name": name, "directory": folder}
        if dot and ext and " " not in ext:
            event["file"]["extension"] = ext
        if action == "rename":
            event["file"]["Ext"] = {"original": {"path": f"{folder}{sep}{_hex(r, 16)}.tmp", "name": f"{_hex(r, 16)}.tmp"}}
        event["process"] = self._light_process(ctx)
        return event

    def _registry(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        pick = r.randrange(6)
        sid = f"{ctx.host.sid_prefix}-{1000 + hash_user(ctx.user) % 9000}"
        if pick == 0:
            hive, key, value, data, dtype = (
                "HKEY_USERS",
                f"{sid}\\Software\\Microsoft\\Office\\16.0\\{r.choice(('Word', 'Excel', 'PowerPoint'))}\\Reading Locations\\Document {r.randint(0, 40)}",
                "File Path",
                f"{ctx.home}\\Documents\\{ctx.doc_name()}",
                "REG_SZ",
            )
        elif pick == 1:
            hive, key, value, data, dtype = (
                "HKEY_LOCAL_MACHINE",
                f"SYSTEM\\ControlSet001\\Services\\{r.choice(SERVICES)}\\Parameters",
                r.choice(("ServiceDllUnloadOnStop", "Start", "DelayedAutoStart")),
                str(r.choice((0, 1, 2, 3))),
                "REG_DWORD",
            )
        elif pick == 2:
            hive, key, value, data, dtype = (
                "HKEY_USERS",
                f"{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Explorer\\RecentDocs\\.{r.choice(DOC_EXT)}",
                str(r.randint(0, 30)),
                _hex(r, 64),
                "REG_BINARY",
            )
        elif pick == 3:
            hive, key, value, data, dtype = (
                "HKEY_LOCAL_MACHINE",
                "SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates",
                r.choice(("AVSignatureVersion", "ASSignatureVersion", "SignaturesLastUpdated")),
                f"1.417.{r.randint(100, 600)}.0",
                "REG_SZ",
            )
        elif pick == 4:
            hive, key, value, data, dtype = (
                "HKEY_USERS",
                f"{sid}\\Software\\{r.choice(COMPANY).title()}\\{r.choice(PROJECTS).title()}\\Settings",
                r.choice(("WindowPos", "LastOpened", "Theme", "AutoUpdate")),
                r.choice(("dark", "1", "0", f"{r.randint(0, 1920)},{r.randint(0, 1080)}")),
                "REG_SZ",
            )
        else:
            hive, key, value, data, dtype = (
                "HKEY_LOCAL_MACHINE",
                f"SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Installer\\UserData\\S-1-5-18\\Products\\{_hex(r, 128).upper()}\\InstallProperties",
                r.choice(("DisplayVersion", "InstallDate", "Publisher")),
                r.choice((f"{r.randint(1, 30)}.{r.randint(0, 9)}.{r.randint(0, 999)}", "20260112", r.choice(SIGNERS))),
                "REG_SZ",
            )
        event = self._frame(ctx, "registry", ["change"], "modification", "endpoint.events.registry", 13)
        if "provider" in event["event"]:
            event["event"]["action"] = "Registry value set (rule: RegistryEvent)"
        short = {"HKEY_USERS": "HKU", "HKEY_LOCAL_MACHINE": "HKLM"}[hive]
        event["registry"] = {
            "hive": short,
            "key": key,
            "value": value,
            "path": f"{hive}\\{key}\\{value}",
            "data": {"strings": [data], "type": dtype},
        }
        event["process"] = self._light_process(ctx)
        return event

    def _library(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        event = self._frame(ctx, "library", ["start"], "load", "endpoint.events.library", 7)
        if "provider" in event["event"]:
            event["event"]["action"] = "Image loaded (rule: ImageLoad)"
        name = r.choice(
            (
                "kernel32.dll",
                "ntdll.dll",
                "user32.dll",
                "combase.dll",
                "winhttp.dll",
                "dbghelp.dll",
                "mscoree.dll",
                "clr.dll",
                "wininet.dll",
                "bcrypt.dll",
                "crypt32.dll",
                "rpcrt4.dll",
                "oleaut32.dll",
                "uxtheme.dll",
            )
        )
        event["dll"] = {
            "name": name,
            "path": f"{SYS32}\\{name}",
            "code_signature": {"subject_name": "Microsoft Windows", "trusted": True, "exists": True, "status": "trusted"},
            "hash": {"sha256": _hex(r, 256)},
        }
        event["process"] = self._light_process(ctx)
        return event

    def _authentication(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        ok = r.random() < 0.9
        if ctx.host.os == "windows":
            event = self._frame(ctx, "authentication", ["start"], "log_on", "endpoint.events.security")
            event["event"]["outcome"] = "success" if ok else "failure"
            event["winlog"] = {
                "logon": {"type": r.choice(("Interactive", "Network", "Unlock", "RemoteInteractive", "Service"))},
                "event_data": {"LogonProcessName": r.choice(("User32", "NtLmSsp", "Kerberos", "Advapi"))},
            }
            event["event"]["code"] = "4624" if ok else "4625"
        else:
            event = self._frame(ctx, "authentication", ["start"], "ssh_login", "system.auth")
            event["event"]["outcome"] = "success" if ok else "failure"
            event["process"] = {"name": "sshd", "pid": r.randint(1000, 4_000_000), "executable": "/usr/sbin/sshd"}
        event["source"] = {
            "ip": f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(2, 254)}",
            "port": r.randint(49152, 65535),
        }
        return event

    def _iam(self, ctx: Ctx) -> Dict[str, Any]:
        r = self.rng
        event = self._frame(ctx, "iam", ["group", "change"], "added-member-to-group", "endpoint.events.security")
        event["group"] = {
            "name": r.choice(("Remote Desktop Users", "Backup Operators", f"{r.choice(DEPTS)}-Users", "docker", "sudo")),
            "id": str(r.randint(1000, 9999)),
        }
        event["event"]["outcome"] = "success"
        return event


def hash_user(name: str) -> int:
    """A stable small hash (Python's str hash is salted per process)."""
    value = 0
    for char in name:
        value = (value * 131 + ord(char)) & 0xFFFFFFFF
    return value


# =============================================================================
# Solving rule predicates
# =============================================================================


class Unsolvable(Exception):
    pass


_ABSENT = object()


@dataclass
class Draft:
    """What one event must hold for a predicate to come out as wanted."""

    exact: Dict[str, Any] = field(default_factory=dict)
    shapes: Dict[str, List[List[str]]] = field(default_factory=dict)  # path -> glob pieces that must all match
    elements: Dict[str, List[Any]] = field(default_factory=dict)  # array path -> one element per condition
    null: Dict[str, None] = field(default_factory=dict)
    present: Dict[str, Any] = field(default_factory=dict)  # path -> LoadField: needs a value
    avoid: Dict[str, List[Any]] = field(default_factory=dict)  # path -> leaves that must come out false
    ranges: Dict[str, List[float]] = field(default_factory=dict)
    links: List[Tuple[str, str]] = field(default_factory=list)

    def copy(self) -> "Draft":
        return Draft(
            dict(self.exact),
            {k: list(v) for k, v in self.shapes.items()},
            {k: list(v) for k, v in self.elements.items()},
            dict(self.null),
            dict(self.present),
            {k: list(v) for k, v in self.avoid.items()},
            {k: list(v) for k, v in self.ranges.items()},
            list(self.links),
        )

    def restore(self, other: "Draft") -> None:
        self.__dict__.update(other.__dict__)

    def touched(self) -> Dict[str, None]:
        out: Dict[str, None] = {}
        for table in (self.exact, self.shapes, self.elements, self.null, self.present, self.avoid, self.ranges):
            out.update(dict.fromkeys(table))
        for a, b in self.links:
            out[a] = out[b] = None
        return out


class Solver:
    """Randomised search for an event that makes a predicate true."""

    def __init__(self, rng: random.Random, schema: Any, ir: Any) -> None:
        self.rng = rng
        self.schema = schema
        self.ir = ir
        self._arrays: Dict[str, bool] = {}

    def is_array(self, path: str) -> bool:
        known = self._arrays.get(path)
        if known is None:
            info = self.schema.lookup(path)
            known = self._arrays[path] = bool(info is not None and info.array)
        return known

    def solve(self, node: Any, want: bool, d: Draft) -> None:
        ir = self.ir
        kind = type(node)
        if kind is ir.Logical:
            if (node.op == "and") == want:  # every operand must come out `want`
                for operand in node.operands:
                    self.solve(operand, want, d)
                return
            operands = list(node.operands)
            self.rng.shuffle(operands)
            for operand in operands:  # one operand decides
                saved = d.copy()
                try:
                    self.solve(operand, want, d)
                    return
                except Unsolvable:
                    d.restore(saved)
            raise Unsolvable("no operand")
        if kind is ir.Not:
            return self.solve(node.operand, not want, d)
        if kind is ir.Literal:
            if node.value is not want:
                raise Unsolvable("constant")
            return
        if not want:
            return self._avoid(node, d)
        if kind is ir.Compare:
            return self._compare(node, d)
        if kind is ir.InSet:
            path = self._field(node.operand)
            return self._require(path, self.rng.choice(node.values), d, exact=True)
        if kind is ir.WildcardMatch:
            path = self._field(node.operand)
            return self._require(path, self.rng.choice(node.patterns), d, exact=False)
        if kind is ir.IsNull:
            path = self._field(node.operand)
            if path in d.exact or path in d.shapes or path in d.elements or path in d.present:
                raise Unsolvable("null and set")
            d.null[path] = None
            return
        if kind is ir.FunctionCall:
            return self._function(node, d)
        raise Unsolvable(kind.__name__)

    def _field(self, node: Any) -> str:
        if type(node) is not self.ir.LoadField:
            raise Unsolvable("not a field")
        return node.path

    def _avoid(self, node: Any, d: Draft) -> None:
        """`node` (a leaf) must come out false: its fields need values, which the check then tests."""
        ir = self.ir
        if type(node) is ir.IsNull:
            path = self._field(node.operand)
            if path in d.null:
                raise Unsolvable("null and set")
            d.present[path] = node.operand
            return
        fields = [n for n in _walk(node, ir) if type(n) is ir.LoadField]
        if not fields:
            raise Unsolvable("no field")
        for load in fields:
            if load.path in d.null:
                raise Unsolvable("null and set")
            d.present[load.path] = load
            d.avoid.setdefault(load.path, []).append(node)

    def _require(self, path: str, value: Any, d: Draft, exact: bool) -> None:
        if path in d.null:
            raise Unsolvable("null and set")
        if self.is_array(path):
            d.elements.setdefault(path, []).append(("exact", value) if exact or not isinstance(value, str) else ("glob", value))
        elif exact or not isinstance(value, str):
            if path in d.exact and d.exact[path] != value and str(d.exact[path]).lower() != str(value).lower():
                raise Unsolvable("two values")
            d.exact[path] = value
        else:
            d.shapes.setdefault(path, []).append(value)

    def _compare(self, node: Any, d: Draft) -> None:
        ir = self.ir
        left, right, cmp = node.left, node.right, node.cmp
        if type(left) is ir.Literal and type(right) is not ir.Literal:
            left, right = right, left
            cmp = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}.get(cmp, cmp)
        if type(left) is ir.LoadField and type(right) is ir.LoadField and cmp == "eq":
            d.links.append((left.path, right.path))
            d.present[left.path] = left
            return
        if type(right) is not ir.Literal:
            raise Unsolvable("compare")
        value = right.value
        if (
            type(left) is ir.FunctionCall
            and left.name == "length"
            and isinstance(value, int)
            and type(left.args[0]) is ir.LoadField
        ):
            length = {
                "eq": value,
                "gt": value + 1 + self.rng.randint(0, 8),
                "ge": value + self.rng.randint(0, 8),
                "lt": max(value - 1 - self.rng.randint(0, 3), 1),
                "le": max(value - self.rng.randint(0, 3), 1),
            }.get(cmp)
            if length is None:
                raise Unsolvable("length")
            path = left.args[0].path
            if self.is_array(path):
                raise Unsolvable("length of array")
            return self._require(
                path, "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length)), d, exact=True
            )
        path = self._field(left)
        if cmp == "eq":
            if value is None:
                raise Unsolvable("eq null")
            return self._require(path, value, d, exact=True)
        if cmp == "ne":
            d.present[path] = left
            d.avoid.setdefault(path, []).append(ir.Compare("eq", left, right, node.case_insensitive))
            return
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise Unsolvable("ordering a string")
        lo, hi = d.ranges.get(path, [float("-inf"), float("inf")])
        if cmp == "gt":
            lo = max(lo, value + 1)
        elif cmp == "ge":
            lo = max(lo, value)
        elif cmp == "lt":
            hi = min(hi, value - 1)
        elif cmp == "le":
            hi = min(hi, value)
        if lo > hi:
            raise Unsolvable("empty range")
        d.ranges[path] = [lo, hi]

    def _function(self, node: Any, d: Draft) -> None:
        ir = self.ir
        args = node.args
        if not args or type(args[0]) is not ir.LoadField or any(type(a) is not ir.Literal for a in args[1:]):
            raise Unsolvable("function shape")
        path = args[0].path
        literals = [a.value for a in args[1:]]
        if node.name == "cidrMatch":
            block = ipaddress.ip_network(self.rng.choice(literals), strict=False)
            size = block.num_addresses
            offset = self.rng.randrange(1, size - 1) if size > 2 else 0
            return self._require(path, str(block.network_address + offset), d, exact=True)
        if not literals or not isinstance(literals[0], str) or not literals[0]:
            raise Unsolvable("function literal")
        text = literals[0]
        if "*" in text or "?" in text:  # a glob would read them as wildcards
            return self._require(path, text, d, exact=True)
        pattern = {"stringContains": f"*{text}*", "startsWith": f"{text}*", "endsWith": f"*{text}"}.get(node.name)
        if pattern is None:
            raise Unsolvable(node.name)
        return self._require(path, pattern, d, exact=False)


def _walk(node: Any, ir: Any) -> Iterator[Any]:
    yield node
    for child in ir.children(node):
        yield from _walk(child, ir)


def _load_paths(node: Any, ir: Any, out: Dict[str, None]) -> None:
    seen: Dict[int, None] = {}
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen[id(n)] = None
        if type(n) is ir.LoadField:
            out[n.path] = None
        stack.extend(ir.children(n))


def get_path(doc: Dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def set_path(doc: Dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        child = doc.get(part)
        if not isinstance(child, dict):
            child = doc[part] = {}
        doc = child
    doc[parts[-1]] = value


def del_path(doc: Dict[str, Any], path: str) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        child = doc.get(part)
        if not isinstance(child, dict):
            return
        doc = child
    doc.pop(parts[-1], None)


def _unshare(event: Dict[str, Any], path: str) -> None:
    """Copy the dicts on `path` that events share (the host document) before writing into them."""
    if path.startswith("host."):
        event["host"] = json.loads(json.dumps(event["host"]))


_OFFICE = ("winword.exe", "excel.exe", "powerpnt.exe", "outlook.exe", "msaccess.exe", "mspub.exe", "onenote.exe", "visio.exe")
_WORDISH = ("update", "svc", "data", "x64", "cache", "helper", "agent", "tmp", "core", "local", "bin", "sync", "runtime")


class Materializer:
    """Turns a draft into field values on top of a background event."""

    def __init__(self, rng: random.Random, solver: Solver, os_name: str, user: str) -> None:
        self.rng = rng
        self.solver = solver
        self.os = os_name
        self.user = user

    def filler(self, path: str, before: str, after: str) -> str:
        r = self.rng
        pathish = any(k in path for k in ("path", "executable", "directory", "command_line", "args", "dll", "file", "working"))
        if pathish and not before and after[:1] in ("\\", "/"):
            if after[:1] == "\\" or self.os == "windows":
                return r.choice(
                    (f"C:\\Users\\{self.user}\\AppData\\Local", "C:\\ProgramData", f"C:\\Users\\{self.user}", "C:\\Windows")
                )
            return r.choice((f"/home/{self.user}" if self.os == "linux" else f"/Users/{self.user}", "/tmp", "/opt", "/var/tmp"))
        if pathish and not after and before[-1:] in ("\\", "/"):
            return f"{r.choice(_WORDISH)}{r.choice(('.exe', '.dll', '.bin', '.dat', '', '.sh', '.ps1'))}"
        if before.strip() and after.strip() and r.random() < 0.25:  # never leave a bare ".pif" or " "
            return ""
        return r.choice(_WORDISH) + (str(r.randint(1, 99)) if r.random() < 0.3 else "")

    def instantiate(self, path: str, pattern: str) -> str:
        pieces = pattern.split("*")
        out = []
        for n, piece in enumerate(pieces):
            if n:
                out.append(self.filler(path, "".join(out), piece))
            out.append(self._question(piece))
        return "".join(out)

    def _question(self, piece: str) -> str:
        if "?" not in piece:
            return piece
        chars = list(piece)
        for n, char in enumerate(chars):
            if char == "?":
                chars[n] = "C" if chars[n + 1 : n + 2] == [":"] else self.rng.choice("abcdefghklmnoprstuvwxyz0123456789")
        return "".join(chars)

    def merge(self, path: str, patterns: List[str]) -> str:
        """One string that every glob in `patterns` may match: anchored heads and tails, pieces between."""
        if len(patterns) == 1:
            return self.instantiate(path, patterns[0])
        prefix, suffix, middle = "", "", []
        for pattern in patterns:
            pieces = [self._question(p) for p in pattern.split("*")]
            if len(pieces) == 1:
                return pieces[0]
            if pieces[0] and len(pieces[0]) > len(prefix):
                prefix = pieces[0]
            if pieces[-1] and len(pieces[-1]) > len(suffix):
                suffix = pieces[-1]
            middle += [p for p in pieces[1:-1] if p]
        out = prefix
        for piece in middle:
            if piece.lower() not in out.lower() and piece.lower() not in suffix.lower():
                out += self.filler(path, out, piece) + piece
        return out + self.filler(path, out, suffix) + suffix

    def apply(self, d: Draft, event: Dict[str, Any]) -> None:
        r = self.rng
        for path in d.null:
            del_path(event, path)
        for path, value in d.exact.items():
            set_path(event, path, value)
        for path, patterns in d.shapes.items():
            set_path(event, path, self.merge(path, patterns))
        for path, wanted in d.elements.items():
            values = [v if how == "exact" else self.instantiate(path, v) for how, v in wanted]
            current = get_path(event, path)
            if path in ("event.type", "event.category") and isinstance(current, list):
                values = values + [v for v in current if v not in values and path not in d.avoid]
            set_path(event, path, values)
        for path, (lo, hi) in d.ranges.items():
            lo_i = int(lo) if lo != float("-inf") else (0 if hi >= 0 else int(hi) - 100)
            hi_i = int(hi) if hi != float("inf") else lo_i + 5000
            set_path(event, path, r.randint(lo_i, max(lo_i, hi_i)))
        self._consistent(d, event)
        for path, load in d.present.items():
            if get_path(event, path) is _ABSENT or path in d.avoid and not self._avoided(d, path, event):
                self._fill(d, path, load, event)
        for a, b in d.links:
            value = get_path(event, a)
            if value is _ABSENT:
                value = self.filler(a, "", "x")
                set_path(event, a, value)
            set_path(event, b, value)

    def _avoided(self, d: Draft, path: str, event: Dict[str, Any]) -> bool:
        from kestrel.reference.interpreter import evaluate

        return all(evaluate(leaf, event) is False for leaf in d.avoid.get(path, ()))

    def _fill(self, d: Draft, path: str, load: Any, event: Dict[str, Any]) -> None:
        """A value for a field the predicate needs present (and, if avoided, not matching)."""
        r = self.rng
        kind = getattr(load, "type", "string")
        for _ in range(6):
            if kind == "bool":
                value: Any = r.random() < 0.5
            elif kind == "i64":
                value = r.randint(1, 65000)
            elif kind == "ip":
                value = r.choice((f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}", _public_ip(r)))
            elif path.endswith("trusted") or path.endswith("exists"):
                value = True
            elif path.endswith("subject_name"):
                value = r.choice(SIGNERS)
            elif path.endswith("executable") or path.endswith(".path"):
                value = (
                    f"C:\\Program Files\\{r.choice(COMPANY).title()}\\{r.choice(PROJECTS)}.exe"
                    if self.os == "windows"
                    else f"/usr/local/bin/{r.choice(PROJECTS)}"
                )
            else:
                value = f"{r.choice(PROJECTS)}{r.choice(('', '-' + r.choice(_WORDISH)))}"
            if self.solver.is_array(path):
                value = [value]
            set_path(event, path, value)
            if self._avoided(d, path, event):
                return

    def _folder(self, name: str) -> str:
        if self.os != "windows":
            return "/usr/bin" if self.os == "linux" or "/" in name else "/usr/local/bin"
        if name.lower() in _OFFICE:
            return "C:\\Program Files\\Microsoft Office\\root\\Office16"
        return SYS32

    def _identity(self, p: str, touched: Dict[str, None], event: Dict[str, Any]) -> None:
        """A binary the rule chose keeps no PE name or signature of the background binary it replaced."""
        name, exe = get_path(event, f"{p}.name"), get_path(event, f"{p}.executable")
        if not isinstance(name, str) or (f"{p}.name" not in touched and f"{p}.executable" not in touched):
            return
        if self.os == "windows" and f"{p}.pe.original_file_name" not in touched and get_path(event, f"{p}.pe") is not _ABSENT:
            set_path(event, f"{p}.pe.original_file_name", name)
            if f"{p}.pe.company" not in touched:
                del_path(event, f"{p}.pe.company")
        signed = [k for k in ("subject_name", "trusted", "exists", "status") if f"{p}.code_signature.{k}" in touched]
        if not signed and get_path(event, f"{p}.code_signature") is not _ABSENT:
            system = isinstance(exe, str) and (exe.lower().startswith("c:\\windows\\") or exe.startswith("/System/"))
            set_path(
                event,
                f"{p}.code_signature",
                (
                    {
                        "subject_name": "Microsoft Windows" if self.os == "windows" else "Software Signing",
                        "trusted": True,
                        "exists": True,
                        "status": "trusted",
                    }
                    if system
                    else {"exists": False}
                ),
            )

    def _consistent(self, d: Draft, event: Dict[str, Any]) -> None:
        """Keep name, executable, command line and arguments of a process (and of a file) telling one story."""
        touched = d.touched()
        sep = "\\" if self.os == "windows" else "/"
        for p in ("process", "process.parent"):
            name, exe, args, cmd = (f"{p}.name", f"{p}.executable", f"{p}.args", f"{p}.command_line")
            if not any(k in touched for k in (name, exe, args, cmd)):
                continue
            if get_path(event, p) is _ABSENT:
                set_path(event, p, {})
            if exe in touched and name not in touched and isinstance(get_path(event, exe), str):
                set_path(event, name, get_path(event, exe).replace("/", "\\").rsplit("\\", 1)[-1])
            if name in touched and exe not in touched and isinstance(get_path(event, name), str):
                set_path(event, exe, f"{self._folder(get_path(event, name))}{sep}{get_path(event, name)}")
            if args in touched and cmd not in touched and isinstance(get_path(event, args), list):
                argv = [str(a) for a in get_path(event, args)]
                executable = get_path(event, exe)
                if isinstance(executable, str) and (
                    not argv or argv[0].lower() not in (executable.lower(), str(get_path(event, name)).lower())
                ):
                    argv = [executable] + argv
                    set_path(event, args, argv)
                set_path(event, cmd, " ".join(_q(a) for a in argv))
            elif cmd in touched and args not in touched and isinstance(get_path(event, cmd), str):
                set_path(event, args, get_path(event, cmd).split())
            elif (name in touched or exe in touched) and args not in touched and cmd not in touched:
                executable = get_path(event, exe)
                if isinstance(executable, str):
                    set_path(event, args, [executable])
                    set_path(event, cmd, _q(executable))
            if f"{p}.args_count" not in touched and isinstance(get_path(event, args), list):
                set_path(event, f"{p}.args_count", len(get_path(event, args)))
            self._identity(p, touched, event)
        for p in ("file", "dll"):
            path_f, name_f, ext_f = f"{p}.path", f"{p}.name", f"{p}.extension"
            if path_f in touched and name_f not in touched and isinstance(get_path(event, path_f), str):
                set_path(event, name_f, get_path(event, path_f).replace("/", "\\").rsplit("\\", 1)[-1])
            elif name_f in touched and path_f not in touched and isinstance(get_path(event, name_f), str):
                folder = get_path(event, f"{p}.directory")
                folder = (
                    folder
                    if isinstance(folder, str)
                    else (f"C:\\Users\\{self.user}\\AppData\\Local\\Temp" if self.os == "windows" else "/tmp")
                )
                set_path(event, path_f, f"{folder}{sep}{get_path(event, name_f)}")
            if ext_f not in touched and isinstance(get_path(event, name_f), str):
                _, dot, ext = get_path(event, name_f).rpartition(".")
                if dot:
                    set_path(event, ext_f, ext)
                else:
                    del_path(event, ext_f)


# =============================================================================
# Templates: solved rules
# =============================================================================

#: Fields that tell one story together: when a rule reads one, its solution keeps them all.
_IDENTITY = (
    "pe.original_file_name",
    "pe.company",
    "code_signature",
    "code_signature.subject_name",
    "code_signature.trusted",
    "code_signature.exists",
    "code_signature.status",
)
GROUPS = (
    ("process.name", "process.executable", "process.args", "process.command_line", "process.args_count")
    + tuple(f"process.{k}" for k in _IDENTITY),
    (
        "process.parent.name",
        "process.parent.executable",
        "process.parent.args",
        "process.parent.command_line",
        "process.parent.args_count",
    )
    + tuple(f"process.parent.{k}" for k in _IDENTITY),
    ("file.path", "file.name", "file.extension"),
    ("dll.path", "dll.name"),
)
_GROUP_OF = {member: group for group in GROUPS for member in group}


@dataclass
class Step:
    category: Optional[str]
    values: Dict[str, Any]  # path -> value, or _ABSENT to delete
    by: Tuple[str, ...]
    fixed_by: Tuple[bool, ...]  # whether each join key's value is fixed by the predicate
    kind: str  # background kind to lay it over


@dataclass
class Template:
    rule: str
    os: str
    steps: List[Step]
    join_values: List[Any]  # the solution's join values (used where a predicate fixes them)


_KIND_OF = {
    "process": "process",
    "network": "network",
    "file": "file",
    "registry": "registry",
    "library": "library",
    "authentication": "authentication",
    "iam": "iam",
    "dns": "dns",
}
_OS_TAGS = {"OS: Windows": "windows", "OS: Linux": "linux", "OS: macOS": "macos"}


def _os_hint(d: Draft, tags: List[str], rng: random.Random) -> str:
    os_type = d.exact.get("host.os.type")
    if isinstance(os_type, str) and os_type.lower() in ("windows", "linux", "macos"):
        return os_type.lower()
    for elems in (d.elements.get("host.os.type"),):
        for how, v in elems or ():
            if how == "exact" and isinstance(v, str) and v.lower() in ("windows", "linux", "macos"):
                return v.lower()
    texts = [v for v in d.exact.values() if isinstance(v, str)] + [p for ps in d.shapes.values() for p in ps]
    texts += [v for es in d.elements.values() for _, v in es if isinstance(v, str)]
    joined = " ".join(texts)
    if ":\\" in joined or "\\" in joined or ".exe" in joined.lower() or "HKEY" in joined:
        return "windows"
    if "/Library/" in joined or "/Applications/" in joined or "/Users/" in joined or "launchctl" in joined:
        return "macos"
    oses = [_OS_TAGS[t] for t in tags if t in _OS_TAGS]
    if joined.count("/") and "windows" in oses and len(oses) > 1:
        oses.remove("windows")
    return rng.choice(oses) if oses else "windows"


class RuleSolver:
    """Finds templates for the corpus rules."""

    def __init__(self, rng: random.Random, fleet: Fleet) -> None:
        import kestrel
        from kestrel.compiler import ir
        from kestrel.reference import interpreter

        self.kestrel = kestrel
        self.interpreter = interpreter
        self.ir = ir
        self.rng = rng
        self.schema = kestrel.Schema.default()
        self.solver = Solver(rng, self.schema, ir)
        self.background = Background(rng, fleet)

    def template(self, record: Dict[str, Any], attempts: int = 24) -> Optional[Template]:
        try:
            compiled = self.kestrel.compile(record["query"])
        except Exception:  # a rule the compiler refuses raises no alerts either
            return None
        rule = compiled.ir.rule
        if rule.kind not in ("event", "sequence"):
            return None
        category_field = compiled.ir.event_fields.category.path
        steps = [s for s in rule.steps if not s.missing]
        for _ in range(attempts):
            try:
                found = self._attempt(record, rule, steps, category_field)
            except Unsolvable:
                continue
            if found is not None:
                return found
        return None

    def _attempt(self, record: Dict[str, Any], rule: Any, steps: List[Any], category_field: str) -> Optional[Template]:
        drafts = []
        for step in steps:
            d = Draft()
            self.solver.solve(step.predicate, True, d)
            drafts.append(d)
        os_name = _os_hint(drafts[0], record.get("tags") or [], self.rng)
        ctx = self.background.context(os_name=os_name)
        events = []
        for step, d in zip(steps, drafts):
            kind = _KIND_OF.get(step.category or "", "process")
            if kind == "network" and any(k.startswith("dns.") for k in d.touched()):
                kind = "dns"
            event = self.background.event(ctx, kind)
            event["host"] = json.loads(json.dumps(event["host"]))
            Materializer(self.rng, self.solver, os_name, ctx.user).apply(d, event)
            if step.category is not None:
                categories = get_path(event, category_field)
                categories = categories if isinstance(categories, list) else []
                if step.category not in categories:
                    set_path(event, category_field, [step.category])
            events.append((step, d, kind, event))
        # Join keys: one value per position, the same in every step.
        width = len(rule.by) + (len(steps[0].by) if steps else 0)
        join_values: List[Any] = []
        fixed_any: List[bool] = []
        for i in range(width):
            value, fixed = _ABSENT, False
            for step, d, _, event in events:
                path = self._by(rule, step)[i]
                if path in d.touched():
                    value, fixed = get_path(event, path), True
                    break
            if value is _ABSENT:
                value = get_path(events[0][3], self._by(rule, events[0][0])[i])
                if value is _ABSENT or value is None:
                    value = _hex(self.rng, 64)
            join_values.append(value)
            fixed_any.append(fixed)
            for step, _d, _, event in events:
                set_path(event, self._by(rule, step)[i], value)
        out_steps = []
        for step, d, kind, event in events:
            if not self.interpreter.step_matches(step, event, category_field):
                return None
            reads: Dict[str, None] = {}
            _load_paths(step.predicate, self.ir, reads)
            for path in list(reads):
                for member in _GROUP_OF.get(path, ()):
                    reads[member] = None
            reads.update(dict.fromkeys(d.touched()))
            values = {path: get_path(event, path) for path in reads}
            if step.category is not None:
                values[category_field] = get_path(event, category_field)
            by = self._by(rule, step)
            out_steps.append(Step(step.category, values, by, tuple(fixed_any), kind))
            for _ in range(max(step.runs, 1) - 1):
                out_steps.append(out_steps[-1])
        return Template(record["name"], os_name, out_steps, join_values)

    @staticmethod
    def _by(rule: Any, step: Any) -> Tuple[str, ...]:
        return tuple(f.path for f in rule.by) + tuple(f.path for f in step.by)


def templates(seed: int = DEFAULT_SEED, corpus: Optional[str] = None) -> Tuple[Template, ...]:
    """One template per corpus rule the solver can satisfy (fixed for a seed and corpus)."""
    return _templates(seed, str(Path(corpus) if corpus else corpus_path()))


@lru_cache(maxsize=4)
def _templates(seed: int, corpus: str) -> Tuple[Template, ...]:
    path = Path(corpus)
    if not path.exists():
        return ()
    rng = random.Random(seed * 7919 + 1)
    fleet = Fleet(random.Random(seed))
    solver = RuleSolver(rng, fleet)
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            found = solver.template(json.loads(line))
            if found is not None:
                out.append(found)
    return tuple(out)


# =============================================================================
# The stream
# =============================================================================


class Clock:
    """Strictly increasing ISO-8601 timestamps, a few milliseconds apart."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ms = START_MS
        self._second = -1
        self._prefix = ""

    def tick(self) -> str:
        self.ms += self.rng.randint(1, 11)
        second, milli = divmod(self.ms, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{milli:03d}Z"


def _fresh_join(rng: random.Random, path: str, ctx: Ctx, first: Dict[str, Any]) -> Any:
    if path.startswith("host.") or path.startswith("agent.") or path == "winlog.computer_name":
        value = get_path(first, path)
        return value if value is not _ABSENT else ctx.host.doc["name"]
    if path.endswith("entity_id"):
        return _hex(rng, 120)
    if path.endswith(".pid") or path.endswith("port"):
        return rng.randint(1000, 65000)
    if path.endswith("user.name"):
        return ctx.user
    if path.endswith(".ip"):
        value = get_path(first, path)
        return value if value is not _ABSENT else f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
    value = get_path(first, path)
    return value if value is not _ABSENT else _hex(rng, 64)


def _instance(rng: random.Random, background: Background, template: Template) -> List[Dict[str, Any]]:
    """Fresh events of one template: background activity of a host of the right OS, the rule's fields laid over it."""
    ctx = background.context(os_name=template.os)
    out = []
    for step in template.steps:
        event = background.event(ctx, step.kind)
        for path, value in step.values.items():
            if path.startswith("host."):
                _unshare(event, path)
            if value is _ABSENT:
                del_path(event, path)
            else:
                set_path(event, path, dict(value) if isinstance(value, dict) else value)
        out.append(event)
    if template.join_values:
        for i, value in enumerate(template.join_values):
            if not template.steps[0].fixed_by[i]:
                value = _fresh_join(rng, template.steps[0].by[i], ctx, out[0])
            for step, event in zip(template.steps, out):
                path = step.by[i]
                if path.startswith("host."):
                    _unshare(event, path)
                set_path(event, path, value)
    return out


def events(
    n_events: int, seed: int = DEFAULT_SEED, *, derived_share: float = DERIVED_SHARE, corpus: Optional[str] = None
) -> Iterator[Dict[str, Any]]:
    """The stream as dicts, in time order."""
    rng = random.Random(seed)
    fleet = Fleet(rng)
    background = Background(rng, fleet)
    solved = templates(seed, corpus)
    # Some rules are noisier than others: a rule's weight falls off with a random rank.
    weights = [1.0 / (1 + rank) ** 0.6 for rank in random.Random(seed + 1).sample(range(len(solved)), len(solved))]
    clock = Clock(rng)
    pending: List[Dict[str, Any]] = []
    serial = rng.getrandbits(32)
    for n in range(n_events):
        if pending and (rng.random() < 0.6 or len(pending) > 3):
            event = pending.pop(0)
        elif solved and rng.random() < derived_share:
            made = _instance(rng, background, rng.choices(solved, weights)[0])
            event = made[0]
            pending.extend(made[1:])
        else:
            event = background.event(background.context())
        event.pop("@timestamp", None)  # the clock's, whatever a rule's solution held
        event = {"@timestamp": clock.tick(), **event}
        ev = event.get("event")
        if isinstance(ev, dict):
            ev = event["event"] = dict(ev)
            ev["sequence"] = serial + n  # unique per event: how alerts are traced back to events
        yield event


def generate(n_events: int, seed: int = DEFAULT_SEED, **options: Any) -> bytes:
    """`n_events` ECS events as NDJSON bytes, the same for the same seed."""
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    return "".join(dumps(e) + "\n" for e in events(n_events, seed, **options)).encode("utf-8")


# =============================================================================
# Measuring the alert rate
# =============================================================================


def alert_rate(events_path: Path, alerts_path: Path) -> Dict[str, Any]:
    """Events that appear in at least one alert's evidence / events, and alerts per event."""
    total = 0
    with open(events_path, "rb") as handle:
        for _ in handle:
            total += 1
    alerting: Dict[int, None] = {}
    by_event_rules: Dict[int, None] = {}
    alerts = 0
    with open(alerts_path, "rb") as handle:
        for line in handle:
            alert = json.loads(line)
            alerts += 1
            for event in alert.get("events") or ():
                marker = (event.get("event") or {}).get("sequence") if isinstance(event, dict) else None
                if marker is not None:
                    alerting[marker] = None
                    if alert.get("kind") == "event":
                        by_event_rules[marker] = None
    return {
        "events": total,
        "alerts": alerts,
        "alerting_events": len(alerting),
        "alert_rate": len(alerting) / total if total else 0.0,
        "event_rule_alert_rate": len(by_event_rules) / total if total else 0.0,
        "alerts_per_event": alerts / total if total else 0.0,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the NDJSON file to write")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--derived-share", type=float, default=DERIVED_SHARE)
    parser.add_argument("--measure", action="store_true", help="run all corpus rules over the file and print the alert rate")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    args.out.write_bytes(generate(args.events, args.seed, derived_share=args.derived_share))
    print(
        f"wrote {args.out}: {args.events} events, {len(templates(args.seed))} rules solved, "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    if args.measure:
        import kestrel

        alerts = args.out.with_suffix(".alerts.ndjson")
        alerts.unlink(missing_ok=True)  # a file sink appends
        with kestrel.Engine(batch_size=8192, sinks=[alerts]) as engine:
            engine.load(corpus_path())
            started = time.perf_counter()
            engine.process_file(args.out)
            seconds = time.perf_counter() - started
        figures = alert_rate(args.out, alerts)
        figures["events_per_s"] = round(figures["events"] / seconds)
        print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
