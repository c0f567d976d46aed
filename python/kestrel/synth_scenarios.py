"""Hand-made attack events for the bundled example stream.

The random background of :mod:`kestrel.synth` makes the project's own EQL
rules fire; the detection-rules TOML files bundled in ``rules/detection-rules``
look for rarer things (containers, macOS, CloudTrail). Each scenario here is
the activity one of those rules describes, written as the ECS events an agent
would send, so ``kestrel run --rules rules/ --events examples/events.ndjson``
shows every bundled event rule firing.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Dict, List

Event = Dict[str, Any]

_LINUX = {
    "id": "scenario-linux-01",
    "name": "srv-lin-01",
    "hostname": "srv-lin-01",
    "os": {"type": "linux", "family": "debian", "name": "Ubuntu", "platform": "ubuntu"},
}
_WINDOWS = {
    "id": "scenario-win-01",
    "name": "ws-win-01",
    "hostname": "ws-win-01",
    "os": {"type": "windows", "family": "windows", "name": "Windows 11 Pro", "platform": "windows"},
}
_MACOS = {
    "id": "scenario-mac-01",
    "name": "mac-01",
    "hostname": "mac-01",
    "os": {"type": "macos", "family": "macos", "name": "macOS", "platform": "macos"},
}


def _event(host: Dict[str, Any], category: str, etype: str, action: str, **fields: Any) -> Event:
    event: Event = {
        "agent": {"type": "endpoint", "version": "9.5.0"},
        "ecs": {"version": "9.5.0"},
        "event": {"kind": "event", "category": [category], "type": [etype], "action": action, "module": "endpoint"},
        "host": copy.deepcopy(host),
    }
    event.update(fields)
    return event


def _process(host: Dict[str, Any], name: str, executable: str, args: List[str], parent: Dict[str, Any], **extra: Any) -> Event:
    process = {
        "pid": 31337,
        "entity_id": f"scenario-{name}",
        "name": name,
        "executable": executable,
        "args": args,
        "args_count": len(args),
        "command_line": " ".join(args),
        "parent": parent,
        **extra.pop("process_extra", {}),
    }
    return _event(host, "process", "start", "exec", process=process, **extra)


def _cloudtrail(action: str, parameters: str) -> Event:
    return _event(
        {"id": "aws", "name": "aws"},
        "info",
        "info",
        action,
        data_stream={"dataset": "aws.cloudtrail", "namespace": "default", "type": "logs"},
        aws={"cloudtrail": {"request_parameters": parameters}},
    ) | {
        "event": {
            "kind": "event",
            "category": ["info"],
            "action": action,
            "provider": "s3.amazonaws.com",
            "outcome": "success",
            "dataset": "aws.cloudtrail",
        }
    }


#: One builder per bundled detection-rules event rule (file stem -> events).
SCENARIOS: Dict[str, Callable[[], List[Event]]] = {
    "command_and_control_curl_socks_proxy_detected_inside_container": lambda: [
        _process(
            _LINUX,
            "curl",
            "/usr/bin/curl",
            ["curl", "--socks5-hostname", "127.0.0.1:1080", "http://203.0.113.9/x"],
            {"name": "bash", "executable": "/bin/bash"},
            container={"id": "4f2a9c1e7b"},
        ),
    ],
    "credential_access_gdb_process_hooking": lambda: [
        _process(_LINUX, "gdb", "/usr/bin/gdb", ["gdb", "-p", "4242"], {"name": "bash", "executable": "/bin/bash"}),
    ],
    "defense_evasion_dotnet_compiler_parent_process": lambda: [
        _process(
            _WINDOWS,
            "csc.exe",
            "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe",
            ["csc.exe", "/out:C:\\Users\\Public\\p.exe", "C:\\Users\\Public\\p.cs"],
            {"name": "mshta.exe", "executable": "C:\\Windows\\System32\\mshta.exe"},
        ),
    ],
    "defense_evasion_gatekeeper_override_and_execution": lambda: [
        _event(_MACOS, "configuration", "change", "gatekeeper_override", file={"path": "/Users/Shared/Updater.app"}),
    ],
    "defense_evasion_modify_ownership_os_files": lambda: [
        _process(
            _WINDOWS,
            "takeown.exe",
            "C:\\Windows\\System32\\takeown.exe",
            ["takeown.exe", "/f", "C:\\Windows\\System32\\sethc.exe"],
            {"name": "cmd.exe", "executable": "C:\\Windows\\System32\\cmd.exe"},
        ),
    ],
    "defense_evasion_s3_bucket_server_access_logging_disabled": lambda: [
        _cloudtrail("PutBucketLogging", "{bucketName=corp-audit, BucketLoggingStatus={}}"),
    ],
    "discovery_enumerating_domain_trusts_via_nltest": lambda: [
        _process(
            _WINDOWS,
            "nltest.exe",
            "C:\\Windows\\System32\\nltest.exe",
            ["nltest.exe", "/DOMAIN_TRUSTS"],
            {"name": "cmd.exe", "executable": "C:\\Windows\\System32\\cmd.exe"},
            user={"id": "S-1-5-21-1004336348-1177238915-682003330-1105", "name": "bob"},
        ),
    ],
    "execution_interactive_exec_to_container": lambda: [
        _process(
            _LINUX,
            "bash",
            "/bin/bash",
            ["bash"],
            {"name": "runc", "executable": "/usr/bin/runc"},
            container={"id": "4f2a9c1e7b"},
            process_extra={"entry_leader": {"entry_meta": {"type": "container"}, "same_as_process": True}},
        ),
    ],
    "impact_s3_object_versioning_disabled": lambda: [
        _cloudtrail("PutBucketVersioning", "{bucketName=corp-backups, VersioningConfiguration={Status=Suspended}}"),
    ],
    "lateral_movement_unusual_dns_service_children": lambda: [
        _process(
            _WINDOWS,
            "cmd.exe",
            "C:\\Windows\\System32\\cmd.exe",
            ["cmd.exe", "/c", "whoami"],
            {"name": "dns.exe", "executable": "C:\\Windows\\System32\\dns.exe"},
        ),
    ],
    "persistence_directory_services_plugins_modification": lambda: [
        _event(_MACOS, "file", "change", "modification", file={"path": "/Library/DirectoryServices/PlugIns/backdoor.dsplug"}),
    ],
    "persistence_user_credential_modification_via_echo": lambda: [
        _process(
            _LINUX,
            "bash",
            "/bin/bash",
            ["bash", "-c", "echo 'toor::0:0::/root:/bin/bash' >> /etc/passwd"],
            {"name": "sshd", "executable": "/usr/sbin/sshd", "command_line": "sshd: root@pts/0"},
        ),
    ],
}


def scenario_events() -> List[Event]:
    """Every scenario's events, in a fixed order (timestamps are the caller's)."""
    return [event for name in sorted(SCENARIOS) for event in SCENARIOS[name]()]
