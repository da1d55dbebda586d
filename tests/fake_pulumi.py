"""A stand-in for the Pulumi CLI, put on PATH as `pulumi` by tests/conftest.py (`fake_pulumi` fixture).

It answers the commands the Automation API runs the way the CLI does, and takes its scenario from
$FAKE_PULUMI_STATE/state.json (stacks, backend, the resources each operation reports, failures to
inject); every invocation is appended to calls.jsonl. Engine events go where `--event-log` says, as the
CLI does it (pulumi/pulumi pkg/backend/display/display.go, startEventLogger):
- a file path: JSON lines appended while the operation runs (CLIs up to 3.205);
- `tcp://host:port` (the SDK passes this to CLIs newer than 3.205.0: automation/_stack.py
  `_setup_event_log`): a gRPC client stream `pulumirpc.Events/StreamEvents` of `EventRequest{event}`,
  one JSON document per message, closed after the cancel event (`stream.CloseAndRecv`).
Events are spread over time (FAKE step seconds per resource) so the SDK reads them while the process runs.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import yaml

STATE_DIR = Path(os.environ["FAKE_PULUMI_STATE"])
STATE_FILE = STATE_DIR / "state.json"
UNCHANGED = {"same", "read", "refresh"}


def load_state() -> dict[str, Any]:
    return json.loads(STATE_FILE.read_text())


def save_state(state: dict[str, Any]) -> None:
    STATE_FILE.write_text(json.dumps(state, indent=2))


def fail(message: str, code: int = 255) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def is_diy(state: dict[str, Any]) -> bool:
    return not state["backend"].startswith("https://")


# --- the stack file, rewritten whole as the CLI does (workspace.SaveProjectStack marshals the document) ---

def stack_file(stack: str) -> Path:
    return Path.cwd() / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"


def save_stack_file(path: Path, document: dict[str, Any]) -> None:
    ordered = {key: document[key] for key in ("secretsprovider", "encryptedkey", "encryptionsalt") if key in document}
    ordered.update({key: value for key, value in document.items() if key not in ordered})
    path.write_text(yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False))


def ensure_salt(state: dict[str, Any], stack: str) -> None:
    """Passphrase backends keep the stack's salt in its stack file; the CLI writes it there when it is missing
    (pulumi/pulumi pkg/cmd/pulumi/stack/secrets.go: the project stack is saved when the secrets manager's
    settings changed; pkg/secrets/passphrase/manager.go sets EncryptionSalt)."""
    if not is_diy(state):
        return
    path = stack_file(stack)
    document = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    if document.get("encryptionsalt") != state["stacks"][stack]["salt"]:
        document["encryptionsalt"] = state["stacks"][stack]["salt"]
        save_stack_file(path, document)


# --- engine events -------------------------------------------------------------------------------

def metadata(resource: dict[str, Any], op: str) -> dict[str, Any]:
    data = {"op": op, "urn": resource["urn"], "type": resource["type"], "provider": "", "logical": True}
    for key in ("diffs", "detailedDiff", "keys"):
        if key in resource:
            data[key] = resource[key]
    for side in ("old", "new"):
        if side in resource:
            data[side] = {"type": resource["type"], "urn": resource["urn"], "custom": True, **resource[side]}
    return data


def engine_events(operation: str, scenario: dict[str, Any], preview: bool, step_seconds: float) -> Iterator[dict[str, Any]]:
    yield {"preludeEvent": {"config": {}}}
    for resource in scenario.get("resources", []):
        op = resource.get("op", "same")
        time.sleep(step_seconds)
        yield {"resourcePreEvent": {"metadata": metadata(resource, "refresh" if operation == "refresh" else op), "planning": preview}}
        time.sleep(step_seconds)
        yield {"resOutputsEvent": {"metadata": metadata(resource, op), "planning": preview}}
    yield {"summaryEvent": {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": counts(scenario), "policyPacks": {}}}
    yield {"cancelEvent": {}}


def counts(scenario: dict[str, Any]) -> dict[str, int]:
    result: dict[str, int] = {}
    for resource in scenario.get("resources", []):
        result[resource.get("op", "same")] = result.get(resource.get("op", "same"), 0) + 1
    return result


def stamped(events: Iterator[dict[str, Any]]) -> Iterator[str]:
    for sequence, event in enumerate(events, start=1):
        yield json.dumps({"sequence": sequence, "timestamp": int(time.time()), **event}) + "\n"


def send_events(destination: str | None, lines: Iterator[str], stdout_lines: list[str]) -> None:
    def narrated() -> Iterator[str]:
        for line in lines:
            event = json.loads(line)
            if "resOutputsEvent" in event and stdout_lines:
                print(stdout_lines.pop(0), flush=True)
            yield line

    if destination is None:
        for _ in narrated():
            pass
    elif destination.startswith("tcp://") and state_version() > (3, 205, 0):
        import grpc
        from pulumi.runtime.proto import events_pb2, events_pb2_grpc

        with grpc.insecure_channel(destination[len("tcp://"):]) as channel:
            stub = events_pb2_grpc.EventsStub(channel)
            stub.StreamEvents(events_pb2.EventRequest(event=line) for line in narrated())
    else:
        # Older CLIs take every --event-log as a file path (os.OpenFile with O_TRUNC|O_APPEND).
        try:
            handle = open(destination, "w", encoding="utf-8")
        except OSError:
            for _ in narrated():  # "could not create event log": the operation runs without events
                pass
            return
        with handle:
            for line in narrated():
                handle.write(line)
                handle.flush()


def state_version() -> tuple[int, ...]:
    return tuple(int(part) for part in load_state()["version"].split("."))


def run_operation(state: dict[str, Any], operation: str, args: list[str]) -> None:
    stack = option(args, "--stack")
    if stack not in state["stacks"]:
        fail(f"no stack named '{stack}' found")
    failures = state.get("failures", {}).get(operation, [])
    if failures:
        message = failures.pop(0)
        save_state(state)
        time.sleep(state.get("step_seconds", 0.02))
        sys.stderr.write(message + "\n")
        sys.exit(255)
    ensure_salt(state, stack)
    preview = operation == "preview" or "--preview-only" in args
    scenario = state.get("operations", {}).get("refresh" if operation == "refresh" else operation, {})
    print(f"{'Previewing' if preview else 'Updating'} {operation} ({stack})", flush=True)
    stdout_lines = [f"    {r.get('op', 'same')} {r['type']} {r['urn'].rsplit('::', 1)[-1]}" for r in scenario.get("resources", [])]
    send_events(option(args, "--event-log"), stamped(engine_events(operation, scenario, preview, state.get("step_seconds", 0.02))),
                stdout_lines)
    changed = any(r.get("op", "same") not in UNCHANGED for r in scenario.get("resources", []))
    if not preview:
        state["stacks"][stack]["history"] = counts(scenario)
        save_state(state)
    if "--expect-no-changes" in args and changed:
        fail("no changes were expected for refresh but changes were proposed" if operation == "refresh"
             else "no changes were expected but changes were proposed")


def main(argv: list[str]) -> None:
    state = load_state()
    with (STATE_DIR / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"args": argv, "cwd": os.getcwd()}) + "\n")
    args = [a for a in argv if a != "--non-interactive"]
    words = [a for a in args if not a.startswith("-")]
    if words[:1] == ["version"]:
        print(f"v{state['version']}")
        return
    if words[:1] == ["whoami"]:
        print(json.dumps({"user": state["user"], "url": state["backend"], "organizations": [state["organization"]]}))
        return
    if words[:2] == ["org", "get-default"]:
        if is_diy(state):
            fail("this command is not supported for diy backends")
        print(state["organization"])
        return
    if words[:2] == ["stack", "select"]:
        stack = option(args, "--stack")
        if stack not in state["stacks"]:
            fail(f"no stack named '{stack}' found")
        state["current"] = stack
        save_state(state)
        return
    if words[:2] == ["stack", "init"]:
        stack = words[2]
        if stack in state["stacks"]:
            fail(f"stack '{stack}' already exists")
        state["stacks"][stack] = {"salt": f"v1:{secrets.token_urlsafe(12)}:v1:{secrets.token_urlsafe(24)}", "outputs": {}}
        state["current"] = stack
        save_state(state)
        ensure_salt(state, stack)
        return
    if words[:2] == ["config", "set-all"]:
        stack = option(args, "--stack")
        path = stack_file(stack)
        document = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
        config = document.setdefault("config", {})
        for key, entry in json.loads(option(args, "--json")).items():
            config[key] = entry["objectValue"] if "objectValue" in entry else entry["value"]
        save_stack_file(path, document)
        return
    if words[:2] == ["stack", "output"]:
        outputs = state["stacks"][option(args, "--stack")].get("outputs", {})
        shown = {name: (entry["value"] if "--show-secrets" in args or not entry.get("secret") else "[secret]")
                 for name, entry in outputs.items()}
        print(json.dumps(shown))
        return
    if words[:2] == ["stack", "history"]:
        changes = state["stacks"][option(args, "--stack")].get("history", {})
        print(json.dumps([{"kind": "update", "startTime": "2026-11-26T00:00:00.000Z", "message": "", "environment": {},
                           "config": {}, "result": "succeeded", "endTime": "2026-11-26T00:01:00.000Z", "version": 1,
                           "resourceChanges": changes}]))
        return
    if words[:1] and words[0] in ("preview", "up", "refresh", "destroy"):
        run_operation(state, words[0], args)
        return
    fail(f"the fake CLI does not know `{' '.join(words)}`")


if __name__ == "__main__":
    main(sys.argv[1:])
