"""An async Kubernetes API client on httpx, with only the calls the operator makes.

Credentials come from the kubernetes package's loaders (in-cluster service account, or a
kubeconfig), so the operator and kopf log in the same way. Every request is counted by verb,
resource and code in Prometheus, since request counts are the cost the benchmarks measure.
"""

from __future__ import annotations

import json
import pathlib
import ssl
from dataclasses import dataclass
from typing import Any

import httpx
from kubernetes import client as kubernetes_client
from kubernetes import config as kubernetes_config

from techsapo_operator import kinds, metrics

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Connection:
    """Where the API server is and how to prove who we are."""

    server: str
    ca_path: str | None = None
    certificate_path: str | None = None
    private_key_path: str | None = None
    token: str | None = None
    token_path: str | None = None
    """A token file re-read on use, as projected service-account tokens rotate."""
    insecure: bool = False
    impersonate_user: str | None = None
    """Act as this user (kubectl's --as), if the credentials may impersonate."""
    impersonate_groups: tuple[str, ...] = ()

    def bearer(self) -> str | None:
        if self.token_path:
            return pathlib.Path(self.token_path).read_text().strip()
        return self.token


SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def connect(kubeconfig: str | None = None, *, context: str | None = None) -> Connection:
    """Load credentials: the given kubeconfig, else in-cluster, else $KUBECONFIG or ~/.kube/config."""
    configuration = kubernetes_client.Configuration()
    token_path = None
    if kubeconfig is None and pathlib.Path(SERVICE_ACCOUNT_TOKEN).is_file():
        kubernetes_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        token_path = SERVICE_ACCOUNT_TOKEN
    else:
        kubernetes_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    header = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    token = header.split(" ", 1)[-1] if header else None
    return Connection(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
        token=None if token_path else token,
        token_path=token_path,
        insecure=not configuration.verify_ssl,
    )


class ApiError(Exception):
    """The API server refused a request; ``status`` is the HTTP code, ``reason`` its Status reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @classmethod
    def of(cls, response: httpx.Response) -> ApiError:
        try:
            status = response.json()
            return cls(response.status_code, status.get("reason", ""), status.get("message", response.text))
        except (json.JSONDecodeError, AttributeError):
            return cls(response.status_code, response.reason_phrase, response.text[:500])


def _body(response: httpx.Response) -> dict[str, Any]:
    """The answer's object; raises ApiError when the API server refused the request."""
    if response.status_code >= 400:
        raise ApiError.of(response)
    body: dict[str, Any] = response.json()
    return body


class Api:
    """The operator's API calls; one instance (one connection pool) per process."""

    def __init__(
        self, connection: Connection, *, field_manager: str, timeout: float = 30, max_connections: int = 20
    ) -> None:
        self.field_manager = field_manager
        self._connection = connection
        context = ssl.create_default_context(cafile=connection.ca_path)
        if connection.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if connection.certificate_path:
            context.load_cert_chain(connection.certificate_path, connection.private_key_path)
        self._client = httpx.AsyncClient(
            base_url=connection.server,
            verify=context,
            timeout=httpx.Timeout(timeout, connect=10),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"User-Agent": f"{field_manager}/0.1", "Accept": "application/json"},
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(
        self,
        verb: str,
        method: str,
        kind: kinds.Kind,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        headers = {"Content-Type": content_type} if body is not None else {}
        token = self._connection.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self._connection.impersonate_user:
            headers["Impersonate-User"] = self._connection.impersonate_user
        # One Impersonate-Group header per group, as the API server reads them.
        extra = [("Impersonate-Group", group) for group in self._connection.impersonate_groups]
        try:
            response = await self._client.request(
                method,
                path,
                params=params,
                headers=[*headers.items(), *extra],
                content=json.dumps(body) if body is not None else None,
            )
        except httpx.HTTPError as error:
            metrics.API_REQUESTS.labels(verb=verb, resource=kind.plural, code="error").inc()
            raise ApiError(0, "ConnectionFailed", f"{type(error).__name__}: {error}") from error
        metrics.API_REQUESTS.labels(verb=verb, resource=kind.plural, code=str(response.status_code)).inc()
        return response

    async def apply(self, body: dict[str, Any], *, subresource: str | None = None) -> dict[str, Any]:
        """Server-side apply with the operator's field manager, taking over conflicting fields."""
        kind = kinds.of(body)
        metadata = body["metadata"]
        path = kind.path(namespace=metadata.get("namespace"), name=metadata["name"], subresource=subresource)
        response = await self._request(
            "apply",
            "PATCH",
            kind,
            path,
            body=body,
            content_type=APPLY_PATCH,
            params={"fieldManager": self.field_manager, "force": "true"},
        )
        return _body(response)

    async def get(self, kind: kinds.Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None if it does not exist."""
        response = await self._request("get", "GET", kind, kind.path(namespace=namespace, name=name))
        if response.status_code == 404:
            return None
        return _body(response)

    async def list_at(
        self, kind: kinds.Kind, *, namespace: str | None = None, label_selector: str | None = None
    ) -> tuple[list[dict[str, Any]], str]:
        """Like ``list``, with the resource version the list was taken at."""
        params = {"labelSelector": label_selector} if label_selector else {}
        items: list[dict[str, Any]] = []
        while True:
            response = await self._request(
                "list", "GET", kind, kind.path(namespace=namespace), params=params | {"limit": "500"}
            )
            page = _body(response)
            items += [{"apiVersion": kind.api_version, "kind": kind.kind, **item} for item in page["items"]]
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items, str(page.get("metadata", {}).get("resourceVersion", ""))
            params["continue"] = token

    async def list(
        self, kind: kinds.Kind, *, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Every object of the kind (in one namespace, or all), each with its apiVersion and kind set."""
        items, _ = await self.list_at(kind, namespace=namespace, label_selector=label_selector)
        return items

    async def delete(self, kind: kinds.Kind, namespace: str | None, name: str, *, uid: str) -> bool:
        """Delete the object if it is still the one with this uid; returns whether anything was deleted."""
        body = {
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "propagationPolicy": "Background",
            "preconditions": {"uid": uid},
        }
        response = await self._request(
            "delete", "DELETE", kind, kind.path(namespace=namespace, name=name), body=body
        )
        if response.status_code in (404, 409):  # gone already, or replaced by a newer object
            return False
        if response.status_code >= 400:
            raise ApiError.of(response)
        return True

    async def patch_status(
        self, kind: kinds.Kind, namespace: str, name: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch the status subresource; the spec is never written."""
        response = await self._request(
            "patch-status",
            "PATCH",
            kind,
            kind.path(namespace=namespace, name=name, subresource="status"),
            body={"status": status},
            content_type=MERGE_PATCH,
            params={"fieldManager": self.field_manager},
        )
        return _body(response)

    async def replace(self, kind: kinds.Kind, body: dict[str, Any]) -> dict[str, Any]:
        """PUT the whole object; its metadata.resourceVersion makes this fail with 409 if it changed."""
        metadata = body["metadata"]
        response = await self._request(
            "replace",
            "PUT",
            kind,
            kind.path(namespace=metadata.get("namespace"), name=metadata["name"]),
            body=body,
            params={"fieldManager": self.field_manager},
        )
        return _body(response)

    async def create(self, kind: kinds.Kind, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._request(
            "create",
            "POST",
            kind,
            kind.path(namespace=namespace),
            body=body,
            params={"fieldManager": self.field_manager},
        )
        return _body(response)
