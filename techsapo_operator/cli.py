"""The techsapo-operator command line."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import pathlib
import sys
from collections.abc import Sequence

import yaml

from techsapo_operator import admin, crd, kubeapi, rendering, validation, yamls

USAGE_ERROR = 2


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def render_command(arguments: argparse.Namespace) -> int:
    """Print every child of the TechSapo(s) in a file as one YAML stream."""
    try:
        documents = yamls.load_all(_read(arguments.file))
    except OSError as error:
        return _fail(f"{arguments.file}: cannot read: {error.strerror}")
    except yaml.YAMLError as error:
        return _fail(f"{arguments.file}: malformed YAML: {' '.join(str(error).split())}")
    if not documents:
        return _fail(f"{arguments.file}: holds no document; expected a TechSapo")
    children = []
    for index, document in enumerate(documents):
        try:
            techsapo = validation.parse(document)
        except validation.InvalidTechSapoError as error:
            where = f"{arguments.file}" + (f" (document {index + 1})" if len(documents) > 1 else "")
            return _fail(*(f"{where}: {problem}" for problem in error.problems))
        children += rendering.render(techsapo)
    sys.stdout.write(yamls.dump_all(children))
    return 0


def crd_command(arguments: argparse.Namespace) -> int:
    """Print the CustomResourceDefinition generated from the API types."""
    sys.stdout.write(yamls.dump(crd.build()))
    return 0


def run_command(arguments: argparse.Namespace) -> int:
    """Run the operator against the cluster of the kubeconfig (or in-cluster)."""
    # kopf loads only to run the operator, so render and crd stay quick.
    from techsapo_operator import leadership, running  # noqa: PLC0415

    try:
        timing = leadership.Timing(
            lease_seconds=arguments.lease_seconds,
            renew_deadline_seconds=arguments.renew_deadline_seconds,
            retry_seconds=arguments.retry_seconds,
        )
    except ValueError as error:
        return _fail(f"--lease-seconds, --renew-deadline-seconds, --retry-seconds: {error}")
    return running.main(
        running.Options(
            kubeconfig=arguments.kubeconfig,
            namespaces=arguments.namespace,
            workers=arguments.workers,
            resync_seconds=arguments.resync_seconds,
            health_address=arguments.health_address,
            metrics_address=arguments.metrics_address,
            log_format=arguments.log_format,
            verbose=arguments.verbose,
            leader_elect=arguments.leader_elect,
            leader_election_namespace=arguments.leader_election_namespace,
            leader_election_id=arguments.leader_election_id,
            leader_timing=timing,
            watch_timeout_seconds=arguments.watch_timeout_seconds,
        )
    )


def gateway_command(arguments: argparse.Namespace) -> int:
    """Run the MCP gateway that enforces the operations policy."""
    from techsapo_operator import gateway  # noqa: PLC0415  (aiohttp loads only to serve)

    upstreams = {}
    for entry in arguments.upstream:
        name, separator, url = entry.partition("=")
        if not separator or not name or not url.startswith(("http://", "https://")):
            return _fail(f"--upstream {entry}: expected NAME=http(s)://host:port/path")
        upstreams[name] = url
    return gateway.main(
        gateway.Options(
            policy=pathlib.Path(arguments.policy),
            upstreams=upstreams,
            listen=arguments.listen,
            max_body_bytes=arguments.max_body_bytes,
            timeout_seconds=arguments.timeout_seconds,
        )
    )


def _admin_api(arguments: argparse.Namespace) -> kubeapi.Api:
    connection = kubeapi.connect(arguments.kubeconfig)
    connection = dataclasses.replace(
        connection, impersonate_user=arguments.as_user, impersonate_groups=tuple(arguments.as_group)
    )
    return kubeapi.Api(connection, field_manager="techsapo-admin")


async def _admin(arguments: argparse.Namespace) -> str:
    api = _admin_api(arguments)
    target = admin.Target(arguments.name, arguments.namespace)
    try:
        if arguments.command == "status":
            return await admin.status(api, target)
        return await admin.decide(
            api,
            target,
            approve=arguments.command == "approve",
            expected_hash=arguments.hash,
            reason=getattr(arguments, "reason", ""),
        )
    finally:
        await api.close()


def admin_command(arguments: argparse.Namespace) -> int:
    """approve, deny and status: the commands an admin runs against one TechSapo."""
    try:
        print(asyncio.run(_admin(arguments)))
    except (admin.AdminError, kubeapi.ApiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _fail(*lines: str) -> int:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    return USAGE_ERROR


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="techsapo-operator", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="print the children a TechSapo renders to, as YAML")
    render.add_argument("-f", "--file", required=True, help="a file with a TechSapo, or - for standard input")
    render.set_defaults(handler=render_command)
    crd_parser = commands.add_parser("crd", help="print the TechSapo CustomResourceDefinition")
    crd_parser.set_defaults(handler=crd_command)
    run = commands.add_parser("run", help="run the operator")
    run.add_argument("--kubeconfig", help="a kubeconfig file (default: in-cluster, then $KUBECONFIG)")
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch this namespace (repeatable); default: all namespaces",
    )
    run.add_argument("--workers", type=_positive, default=8, help="instances reconciled at once (default 8)")
    run.add_argument(
        "--resync-seconds",
        type=_positive,
        default=300,
        help="reconcile every instance at least this often (default 300)",
    )
    run.add_argument("--health-address", default="0.0.0.0:8080", help="host:port of /healthz")
    run.add_argument("--metrics-address", default="0.0.0.0:9090", help="host:port of the Prometheus metrics")
    run.add_argument("--log-format", choices=["json", "text"], default="json")
    run.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    run.add_argument(
        "--leader-elect",
        action="store_true",
        help="act only while holding the leader Lease, so that several replicas can run",
    )
    run.add_argument(
        "--leader-election-namespace",
        default="",
        help="namespace of the Lease (default: $POD_NAMESPACE, else techsapo-system)",
    )
    run.add_argument("--leader-election-id", default="techsapo-operator", help="name of the Lease")
    run.add_argument("--lease-seconds", type=_positive, default=15, help="lease duration (default 15)")
    run.add_argument(
        "--renew-deadline-seconds", type=_positive, default=10, help="the leader gives up after (default 10)"
    )
    run.add_argument("--retry-seconds", type=_positive, default=2, help="renew and acquire every (default 2)")
    run.add_argument(
        "--watch-timeout-seconds",
        type=_positive,
        default=240,
        help="renew every watch at least this often; a silent one is dropped an eighth later (default 240)",
    )
    run.set_defaults(handler=run_command)
    gateway = commands.add_parser("gateway", help="run the MCP gateway that enforces the operations policy")
    gateway.add_argument(
        "--policy", required=True, help="the mounted policy ConfigMap folder, or a YAML file"
    )
    gateway.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="an upstream MCP server, served at /mcp/NAME (repeatable)",
    )
    gateway.add_argument("--listen", default="0.0.0.0:8090", help="host:port to listen on")
    gateway.add_argument("--max-body-bytes", type=_positive, default=1 << 20, help="largest request body")
    gateway.add_argument("--timeout-seconds", type=_positive, default=30, help="upstream answer timeout")
    gateway.set_defaults(handler=gateway_command)
    for name, summary in (
        ("approve", "approve the pending change of a TechSapo"),
        ("deny", "deny the pending change of a TechSapo"),
        ("status", "show a TechSapo's conditions, pending change and children"),
    ):
        command = commands.add_parser(name, help=summary)
        command.add_argument("name", help="the TechSapo")
        command.add_argument("-n", "--namespace", default="default")
        command.add_argument(
            "--kubeconfig", help="a kubeconfig file (default: $KUBECONFIG or ~/.kube/config)"
        )
        command.add_argument("--as", dest="as_user", help="act as this user (impersonation, as in kubectl)")
        command.add_argument("--as-group", action="append", default=[], help="act as a member of this group")
        if name != "status":
            command.add_argument(
                "--hash", help="the pending change's hash; refused when it is no longer pending"
            )
        if name == "deny":
            command.add_argument("--reason", required=True, help="why, recorded in the status")
        command.set_defaults(handler=admin_command)
    return top


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    status: int = arguments.handler(arguments)
    return status


if __name__ == "__main__":
    sys.exit(main())
