"""`learning360 webhooks setup|status|teardown|serve`: the change feed's subscriptions as code
(sources/learning360/change_feed.py) and its receiver (pipelines/webhook_receiver.py).

The subscription ids live in the pipeline's dlt source state (``change_feed.subscriptions``),
written by a state-only run of the pipeline: they are loaded to the destination with the
other cursors, so an ephemeral runner gets them back (``sync_destination``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dlt

from pipelines.checks import resolve_source_config
from pipelines.run import sync_lock
from pipelines.webhook_receiver import serve
from sources.learning360.change_feed import (
    EVENT_TYPES,
    STATE_KEY,
    SUBSCRIPTION_NAME,
)
from sources.learning360.client import build_client
from sources.learning360.errors import (
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    config_key,
    register_secret,
)
from sources.learning360.routes import V2_ROUTES
from sources.learning360.v2.api import V2Api

SOURCE = "learning360"


def add_arguments(parser: argparse.ArgumentParser, pipeline_arguments: Any) -> None:
    actions = parser.add_subparsers(dest="webhooks_action", required=True)
    setup = actions.add_parser(
        "setup", help="create (idempotently) the change feed's subscriptions"
    )
    setup.add_argument("--url", required=True, help="where 360Learning delivers events")
    status = actions.add_parser("status", help="subscriptions, last event read, failures, gaps")
    teardown = actions.add_parser("teardown", help="delete the change feed's subscriptions")
    serve = actions.add_parser("serve", help="receive deliveries and trigger a sync")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--port", type=int, default=8361, help="port to listen on (the emulator uses 8360)"
    )
    serve.add_argument(
        "--sync-after",
        type=float,
        default=10.0,
        help="seconds of quiet after a delivery before `learning360 sync` starts (debounce)",
    )
    for sub in (setup, status, teardown, serve):
        pipeline_arguments(sub)


# ---- API and state ---------------------------------------------------------------------------


class WebhooksAdmin:
    """The Webhook API over the shared v2 transport: only this CLI and its receiver manage
    subscriptions and read secrets (the sync reads the logs, change_feed.py)."""

    def __init__(self, api: V2Api):
        self.api, self.client = api, api.client

    def subscriptions(self) -> list[Any]:
        return [s for s in self.api.items("webhook_subscriptions") if isinstance(s, Mapping)]

    def secret(self, subscription_id: str) -> str | None:
        body = self.api.one("webhook_secret", {"subscription_id": subscription_id})
        secret = body.get("secret") if isinstance(body, Mapping) else None
        if not (isinstance(secret, str) and secret):
            return None
        register_secret(secret)
        return secret

    def _send(self, method: str, route: str, params: Mapping[str, str] | None, body: Any) -> Any:
        template = V2_ROUTES[route]
        url = self.client._url(template, params)  # noqa: SLF001
        parse = lambda r: r.json() if r.content else None  # noqa: E731
        return self.client._request(method, template, url, json=body, parse=parse)  # noqa: SLF001

    def create(self, event_type: str, url: str, name: str = SUBSCRIPTION_NAME) -> dict[str, Any]:
        body = {"eventType": event_type, "name": name, "url": url}
        return self._send("POST", "webhook_subscriptions", None, body)

    def update(self, subscription_id: str, **fields: str) -> dict[str, Any]:
        params = {"subscription_id": subscription_id}
        return self._send("PATCH", "webhook_subscription", params, fields)

    def delete(self, subscription_id: str) -> None:
        self._send("DELETE", "webhook_subscription", {"subscription_id": subscription_id}, None)


def webhooks_api() -> WebhooksAdmin:
    """The Webhook API with the source's v2 credentials (same config keys as a sync)."""
    config = resolve_source_config()
    if (config.api_version or "v1").strip().lower() != "v2":
        raise ConfigurationError(
            f'the change feed needs API v2: set {config_key("api_version")} = "v2" and the v2 '
            "client credentials"
        )
    client = build_client(
        config.base_url,
        config.credentials,
        "v2",
        max_requests_per_second=config.max_requests_per_second,
        workers=1,
    )
    return WebhooksAdmin(V2Api(client))


def feed_state(pipeline: dlt.Pipeline, restore: bool = True) -> dict[str, Any]:
    """The change feed's part of the pipeline state (restored from the destination if needed)."""
    if restore and pipeline.config.restore_from_destination:
        # a destination never written to has no state yet
        with contextlib.suppress(Exception):
            pipeline.sync_destination()
    return dict(pipeline.state.get("sources", {}).get(SOURCE, {}).get(STATE_KEY, {}) or {})


def save_subscriptions(pipeline: dlt.Pipeline, subscriptions: dict[str, str]) -> None:
    """A run of the source's state only: the ids are stored (and loaded) with the cursors."""

    @dlt.source(name=SOURCE, section=SOURCE)
    def state_only() -> Any:
        @dlt.resource(name="_change_feed_subscriptions", selected=True)
        def subscriptions_state() -> Iterator[Any]:
            own = dlt.current.source_state().setdefault(STATE_KEY, {})
            own["subscriptions"] = dict(subscriptions)
            known = set(subscriptions.values())
            for key in ("read_until", "last_event"):  # cursors of removed subscriptions go
                own[key] = {k: v for k, v in (own.get(key) or {}).items() if k in known}
            yield from ()

        return subscriptions_state

    with sync_lock(pipeline):
        pipeline.run(state_only())


# ---- commands --------------------------------------------------------------------------------


def _scope_error(exc: Exception, scope: str) -> Exception:
    if isinstance(exc, PermissionDeniedError):
        return PermissionDeniedError(
            f"360Learning refused the Webhook API (403): the v2 credential "
            f"{config_key('credentials', 'client_id')} lacks the scope {scope}; ask your "
            "360Learning admin to add webhooks:read, webhooks:write and webhookSecrets:read",
            403,
            "invalid_scope",
        )
    return exc


def cmd_setup(args: argparse.Namespace, pipeline: dlt.Pipeline) -> int:
    api = webhooks_api()
    try:
        existing = api.subscriptions()
    except Exception as exc:
        raise _scope_error(exc, "webhooks:read") from None
    chosen: dict[str, str] = {}
    for event_type in EVENT_TYPES:
        # ours: same event type and URL, or same event type and our name (then moved to URL)
        mine = [s for s in existing if s.get("eventType") == event_type]
        match = next((s for s in mine if s.get("url") == args.url), None) or next(
            (s for s in mine if s.get("name") == SUBSCRIPTION_NAME), None
        )
        try:
            if match is None:
                match = api.create(event_type, args.url, SUBSCRIPTION_NAME)
                what = "created"
            elif match.get("url") != args.url or match.get("status") != "active":
                match = api.update(str(match["_id"]), url=args.url, status="active")
                what = "updated (url, status active)"
            else:
                what = "exists"
        except Exception as exc:
            raise _scope_error(exc, "webhooks:write") from None
        chosen[event_type] = str(match["_id"])
        print(f"{event_type:<28}{chosen[event_type]}  {what}")
    save_subscriptions(pipeline, chosen)
    print(f"{len(chosen)} subscriptions saved in the state of pipeline {pipeline.pipeline_name}")
    return 0


def cmd_status(args: argparse.Namespace, pipeline: dlt.Pipeline) -> int:
    own = feed_state(pipeline, args.restore_state)
    subscribed: dict[str, str] = own.get("subscriptions") or {}
    if not subscribed:
        print("no change feed subscription in this pipeline's state: run `webhooks setup`")
        return 0
    api = webhooks_api()
    try:
        live = {s.get("_id"): s for s in api.subscriptions()}
    except Exception as exc:
        raise _scope_error(exc, "webhooks:read") from None
    read_until = own.get("read_until") or {}
    last_event = own.get("last_event") or {}
    print(
        f"{'event type':<28}{'subscription':<26}{'status':<10}{'read until':<26}"
        f"{'last event read':<26}failed"
    )
    for event_type in EVENT_TYPES:
        sub_id = subscribed.get(event_type)
        sub = live.get(sub_id) if sub_id else None
        state = "missing" if sub_id is None else (sub or {}).get("status", "deleted")
        failed = "-"
        if sub is not None:
            failed = str(
                sum(
                    len(page)
                    for page in api.api.pages(
                        "webhook_events", {"subscription_id": sub_id}, {"status[eq]": "failed"}
                    )
                )
            )
        until = read_until.get(sub_id, "never") if sub_id else "-"
        last = last_event.get(sub_id, "none") if sub_id else "-"
        print(f"{event_type:<28}{sub_id or '-':<26}{state:<10}{until:<26}{last:<26}{failed}")
    last = own.get("last_run")
    if last:
        print(change_feed_line(last))
    return 0


def change_feed_line(last: dict[str, Any]) -> str:
    """One line on the last sync's use of the feed (also printed by `learning360 status`)."""
    line = (
        f"change feed, last sync {last.get('at')}: {last.get('events', 0)} events, "
        f"{last.get('users', 0)} users re-read, {last.get('duplicates', 0)} duplicates, "
        f"{last.get('malformed', 0)} malformed"
    )
    fallback = last.get("fallback") or {}
    if fallback:
        line += "; default policy alone (gap): " + "; ".join(
            f"{table}: {why}" for table, why in sorted(fallback.items())
        )
    return line


def cmd_teardown(args: argparse.Namespace, pipeline: dlt.Pipeline) -> int:
    own = feed_state(pipeline, args.restore_state)
    api = webhooks_api()
    for event_type, sub_id in sorted((own.get("subscriptions") or {}).items()):
        try:
            api.delete(sub_id)
            print(f"{event_type:<28}{sub_id}  deleted")
        except NotFoundError:
            print(f"{event_type:<28}{sub_id}  already gone")
        except Exception as exc:
            raise _scope_error(exc, "webhooks:write") from None
    save_subscriptions(pipeline, {})
    print(
        "change feed subscriptions removed; syncs with change_feed on now follow the default v2 policy alone"
    )
    return 0


def run(args: argparse.Namespace, pipeline_from: Any) -> int:
    pipeline = pipeline_from(args)
    # a DuckDB file that does not exist holds no state: do not create an empty one by looking
    duckdb_file = Path(args.duckdb_path or f"{pipeline.pipeline_name}.duckdb")
    args.restore_state = args.destination != "duckdb" or duckdb_file.exists()
    if args.webhooks_action == "serve":
        return serve(args, pipeline, webhooks_api())
    action = {"setup": cmd_setup, "status": cmd_status, "teardown": cmd_teardown}
    code = action[args.webhooks_action](args, pipeline)
    sys.stdout.flush()
    return code
