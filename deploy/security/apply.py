"""Apply deploy/security/acls.json to a cluster with Apache Kafka's own tools.

    python3 deploy/security/apply.py users --bootstrap kafka:9092 \\
        --command-config admin.properties --secrets /run/secrets [--dry-run]
    python3 deploy/security/apply.py acls  --bootstrap kafka:9092 \\
        --command-config admin.properties [--dry-run]

``users`` gives every principal of the file a SCRAM-SHA-512 credential whose password is
read from ``<secrets>/<name>`` (never from the command line of this script); ``acls`` adds
each grant with kafka-acls.sh. Both are idempotent. Standard library only, so it runs in
the apache/kafka image.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESOURCE_FLAG = {"topic": "--topic", "group": "--group", "cluster": "--cluster"}


def load(path: Path = HERE / "acls.json") -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def acl_commands(spec: dict[str, Any], tools: str, bootstrap: str, config: str) -> list[list[str]]:
    """One kafka-acls.sh --add per grant of the file."""
    commands = []
    for principal, entry in spec["principals"].items():
        for grant in entry["acls"]:
            command = [f"{tools}/kafka-acls.sh", "--bootstrap-server", bootstrap]
            command += ["--command-config", config, "--add", "--allow-principal", principal]
            for operation in grant["operations"]:
                command += ["--operation", operation]
            if grant["resource"] == "cluster":
                command.append("--cluster")
            else:
                command += [RESOURCE_FLAG[grant["resource"]], grant["name"]]
                command += ["--resource-pattern-type", grant["pattern"]]
            commands.append(command)
    return commands


def user_commands(
    spec: dict[str, Any], tools: str, bootstrap: str, config: str, secrets: Path
) -> list[list[str]]:
    """One kafka-configs.sh --alter per principal, its password read from ``secrets``."""
    commands = []
    for principal in spec["principals"]:
        name = principal.removeprefix("User:")
        password = (secrets / name).read_text(encoding="utf-8").strip()
        scram = f"SCRAM-SHA-512=[iterations=8192,password={password}]"
        commands.append(
            [
                *(f"{tools}/kafka-configs.sh", "--bootstrap-server", bootstrap),
                *("--command-config", config, "--alter", "--entity-type", "users"),
                *("--entity-name", name, "--add-config", scram),
            ]
        )
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["users", "acls"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--command-config", required=True, help="the admin's client properties")
    parser.add_argument("--tools", default="/opt/kafka/bin", help="Kafka's bin folder")
    parser.add_argument("--secrets", type=Path, default=Path("/run/secrets"))
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args()
    spec = load()
    if args.what == "acls":
        commands = acl_commands(spec, args.tools, args.bootstrap, args.command_config)
    else:
        commands = user_commands(
            spec, args.tools, args.bootstrap, args.command_config, args.secrets
        )
    for command in commands:
        if args.dry_run:
            shown = [("password=***" if "password=" in c else c) for c in command]
            print(shlex.join(shown))
        else:
            subprocess.run(command, check=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
