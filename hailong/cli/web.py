"""``hailong web`` (the dashboard, public portal and read API) and ``hailong users`` (its
accounts and API tokens)."""

from __future__ import annotations

import argparse

from hailong.cli.common import Adder, need
from hailong.clock import SYSTEM
from hailong.errors import HailongError
from hailong.settings import Settings


def cmd_web(settings: Settings, args: argparse.Namespace) -> None:
    from pipelines.web.app import run_cli

    run_cli(settings, args)


def cmd_users(settings: Settings, args: argparse.Namespace) -> None:
    import getpass
    import sys as _sys

    from pipelines.web.auth import Account
    from pipelines.web.store import Accounts
    from warehouse.private import prepare_private

    prepare_private(settings)
    by = args.by or getpass.getuser()

    def password() -> str:
        if args.password_stdin:
            return _sys.stdin.readline().rstrip("\n")
        first = getpass.getpass("password (12 characters or more): ")
        if getpass.getpass("again: ") != first:
            raise HailongError("the two passwords differ")
        return first

    with Accounts(settings, SYSTEM) as accounts:
        if args.action == "add":
            account = Account(
                need(args.name, "--name").lower(),
                need(args.role, "--role"),
                args.scope or "",
                args.office or "",
                args.email or "",
            )
            accounts.add(account, password(), by)
            print(
                f"users: {account.name} added ({account.role}"
                + (f", scope {account.scope}" if account.scope else "")
                + ")"
            )
        elif args.action == "passwd":
            accounts.set_password(need(args.name, "--name"), password(), by)
            print(f"users: new password for {args.name}; its sessions ended")
        elif args.action in ("disable", "enable"):
            accounts.set_disabled(need(args.name, "--name"), args.action == "disable", by)
            print(f"users: {args.name} {args.action}d")
        elif args.action == "list":
            for a, disabled in accounts.all():
                print(
                    f"  {a.name:<24} {a.role:<7} {a.scope or '-':<20} {a.email or '-':<28}"
                    + (" disabled" if disabled else "")
                )
        elif args.action == "token":
            if args.revoke:
                print(f"users: {accounts.revoke_api_tokens(args.revoke)} tokens revoked")
                return
            token = accounts.new_api_token(need(args.label, "--label"), args.unit or "", by)
            print(
                f"users: API token for {args.label} ({args.unit or 'the city'}), shown "
                f"once:\n{token}"
            )
        elif args.action == "tokens":
            for label, unit, creator, at, revoked in accounts.api_tokens():
                print(
                    f"  {label:<24} {unit or 'city':<10} by {creator} {at:%Y-%m-%d}"
                    + (" revoked" if revoked else "")
                )


def register(add: Adder) -> None:
    """Add this module's commands to the parser."""
    p = add(
        "web",
        cmd_web,
        "the dashboard, the public portal and the read API "
        "(pipelines/web/; accounts: `hailong users`)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18800)
    p = add(
        "users",
        cmd_users,
        "the dashboard's accounts (roles city, unit, office, staff, viewer) and the read "
        "API's tokens: add, passwd, disable, enable, list; token --label L [--unit U] "
        "(shown once) or token --revoke L; tokens",
    )
    p.add_argument(
        "action", choices=["add", "passwd", "disable", "enable", "list", "token", "tokens"]
    )
    p.add_argument("--name", help="the account (lower case)")
    p.add_argument("--role", choices=["city", "unit", "office", "staff", "viewer"])
    p.add_argument(
        "--scope",
        help="unit: a unit code; office: an office id; staff: a staff "
        "id; viewer: unit:<code>, office:<id> or none (the city)",
    )
    p.add_argument("--office", help="staff: the office they work at")
    p.add_argument("--email", help="where the unit's monthly report goes (unit accounts)")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (scripts) instead of asking",
    )
    p.add_argument("--label", help="token: who uses it")
    p.add_argument("--unit", help="token: the unit it may read (default: the city)")
    p.add_argument("--revoke", metavar="LABEL", help="token: revoke every token of a label")
    p.add_argument("--by", help="who does it (default: your login name)")
