"""Who may do what on Kafka: the platform's accounts and their ACLs.

The broker admits no anonymous client and denies whatever no ACL allows
(``allow.everyone.if.no.acl.found=false``, StandardAuthorizer). The accounts
(SCRAM-SHA-512) and what each may do:

============================  =================================================  ===========
account                       may                                                made by
============================  =================================================  ===========
``hailong.admin``             everything (a super user): topics, accounts, ACLs  stack start
``hailong.worker``            read the three event topics, in its consumer       stack start
                              group; write dead letters and alerts
``hailong.gateway``           write QR surveys                                   stack start
``hailong.camera-adapter``    write camera observations                          stack start
``hailong.simulator``         write the three event topics (the demo's and       stack start
                              benchmarks' simulated devices; local stack only)
``device.<device_id>``        a kiosk: write kiosk ratings; a gateway: write     ``hailong
                              QR surveys and camera observations                 devices``
============================  =================================================  ===========

No device may read a topic (one office's kiosk never sees another's events), alter a
config, delete a topic or touch a consumer group. Cameras and QR issuers reach Kafka
only through the camera adapter and the gateway (HTTP, with their own tokens).

The ACLs name topics (literally, with the topic prefix) and the worker's group; they are
granted by ``hailong topics`` / ``hailong stack start`` (:func:`grant_topics`), so a
prefix of one's own (the tests') gets its own. On an existing cluster, create the
accounts yourself, with these names or your own (``HAILONG_KAFKA_USER`` of each
process), and run ``hailong topics`` as the administrator to grant the ACLs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from hailong.errors import StackError
from hailong.kafka import (
    ADMIN,
    CAMERA_ADAPTER,
    GATEWAY,
    ROLES,
    SIMULATOR,
    WORKER,
    account_password,
    admin_client,
    device_principal,
    principal,
)
from hailong.settings import Settings

Progress = Callable[[str], None]
SCRAM_ITERATIONS = 8192  # Kafka's minimum is 4096


def internal_admin(settings: Settings) -> Any:
    """An AdminClient on the local broker's own listener (127.0.0.1, the static user
    ``broker``): the one way in before any SCRAM account exists."""
    from confluent_kafka.admin import AdminClient

    return AdminClient(
        {
            "bootstrap.servers": f"127.0.0.1:{settings.kafka_internal_port}",
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "broker",
            "sasl.password": account_password(settings, "broker"),
            "log_level": 0,
            "socket.connection.setup.timeout.ms": 2000,
        }
    )


def _wait(futures: dict[Any, Any], what: str) -> None:
    for key, future in futures.items():
        try:
            future.result()
        except KafkaException as exc:
            raise StackError(f"Kafka refused to {what} ({key}): {exc.args[0].str()}") from exc


def _upsert(admin: Any, user: str, password: str) -> None:
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    _wait(
        admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(user, info, password.encode())]
        ),
        f"set the password of {user}",
    )


def ensure_accounts(settings: Settings, progress: Progress = print) -> None:
    """The local stack's platform accounts (``hailong.<role>``), with the passwords kept
    in ``<stack_dir>/kafka/accounts/<role>``: set on every start (idempotent)."""
    admin = internal_admin(settings)
    for role in ROLES:
        _upsert(admin, principal(role), account_password(settings, role))
    progress(f"kafka: accounts {', '.join(principal(r) for r in ROLES)} ready")


def _allow(user: str, kind: ResourceType, name: str, *operations: AclOperation) -> list[AclBinding]:
    return [
        AclBinding(
            kind,
            name,
            ResourcePatternType.LITERAL,
            f"User:{user}",
            "*",
            op,
            AclPermissionType.ALLOW,
        )
        for op in operations
    ]


def _write(user: str, topics: Iterable[str]) -> list[AclBinding]:
    return [
        b
        for t in topics
        for b in _allow(user, ResourceType.TOPIC, t, AclOperation.WRITE, AclOperation.DESCRIBE)
    ]


def topic_bindings(settings: Settings) -> list[AclBinding]:
    """What the platform's services may do on this prefix's topics."""
    t = settings.topics
    worker = principal(WORKER)
    return [
        *(
            b
            for topic in t.events
            for b in _allow(
                worker, ResourceType.TOPIC, topic, AclOperation.READ, AclOperation.DESCRIBE
            )
        ),
        *_write(worker, [t.deadletter, t.alerts]),
        *_allow(worker, ResourceType.GROUP, settings.consumer_group, AclOperation.READ),
        *_write(principal(GATEWAY), [t.qr]),
        *_write(principal(CAMERA_ADAPTER), [t.camera]),
        *_write(principal(SIMULATOR), t.events),
    ]


def device_bindings(settings: Settings, device_id: str, kind: str) -> list[AclBinding]:
    """A device's: a kiosk writes ratings; a gateway (a QR gateway or camera adapter
    of a vendor's) writes surveys and observations. Nothing else, no reading."""
    t = settings.topics
    topics = {"kiosk": [t.kiosk], "gateway": [t.qr, t.camera]}.get(kind, [])
    return _write(device_principal(device_id), topics)


def _create(settings: Settings, bindings: list[AclBinding], progress: Progress) -> bool:
    """Create ACLs; False when the cluster has no authorizer (nothing to grant)."""
    if not bindings:
        return True
    admin = admin_client(settings, ADMIN)
    try:
        _wait(admin.create_acls(bindings), "create ACLs")
    except StackError as exc:
        if "SECURITY_DISABLED" in str(exc) or "No Authorizer" in str(exc):
            progress("kafka: the cluster has no authorizer; no ACLs granted")
            return False
        raise
    return True


def grant_topics(settings: Settings, progress: Progress = print) -> None:
    """Grant the services' ACLs on this prefix's topics (idempotent)."""
    if _create(settings, topic_bindings(settings), progress):
        progress(f"kafka: ACLs of the services on {settings.topic_prefix}satisfaction.* granted")


def _delete(settings: Settings, bindings: list[AclBinding], what: str) -> None:
    """Delete exactly these ACLs."""
    filters = [
        AclBindingFilter(
            b.restype,
            b.name,
            b.resource_pattern_type,
            b.principal,
            b.host,
            b.operation,
            b.permission_type,
        )
        for b in bindings
    ]
    admin = admin_client(settings, ADMIN)  # referenced until its futures are done
    _wait(admin.delete_acls(filters), what)


def drop_topic_grants(settings: Settings) -> None:
    """Remove the services' ACLs of this prefix (its topics were deleted)."""
    _delete(settings, topic_bindings(settings), "delete ACLs")


def grant_device(
    settings: Settings, device_id: str, kind: str, progress: Progress = print
) -> tuple[str, str] | None:
    """A Kafka account for a kiosk or gateway device, with a new random password (the
    old one, if any, stops working), and its ACLs. Returns (user, password), shown once
    in the device config; None for devices that do not publish to Kafka themselves
    (cameras and issuers speak HTTP) or a cluster without SASL."""
    bindings = device_bindings(settings, device_id, kind)
    if not bindings or not settings.kafka_security_protocol.startswith("SASL"):
        return None
    user, password = device_principal(device_id), secrets.token_urlsafe(24)
    _upsert(admin_client(settings, ADMIN), user, password)
    _create(settings, bindings, progress)
    return user, password


def revoke_device(settings: Settings, device_id: str, kind: str) -> None:
    """Delete a device's Kafka account and ACLs (its connections end at the next
    re-authentication, within ``connections.max.reauth.ms``)."""
    bindings = device_bindings(settings, device_id, kind)
    if not bindings or not settings.kafka_security_protocol.startswith("SASL"):
        return
    admin = admin_client(settings, ADMIN)
    user = device_principal(device_id)
    try:
        _wait(
            admin.alter_user_scram_credentials(
                [UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)]
            ),
            f"delete the account of {user}",
        )
    except StackError as exc:
        if "RESOURCE_NOT_FOUND" not in str(exc):  # never had one, or deleted already
            raise
    _delete(settings, bindings, f"delete the ACLs of {user}")
