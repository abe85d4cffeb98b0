#!/usr/bin/env python3
"""Cross-checks a running okta-sim against Okta's official Python SDK.

Run by scripts/okta-sdk-check.sh, which installs the SDK (`okta` on PyPI) in
a virtualenv and starts `dirsync okta-sim`; see the README section "Okta SDK
cross-check". Every listing below is paged by the SDK's own client
(`okta.client.Client`) the way the installed SDK (3.x) pages: each call
returns `(items, response, error)`, and the next cursor comes from the `Link`
header through `okta.pagination.PaginationHelper.extract_next_cursor`, sent
back as `after=`.

The expected numbers come from the simulator, not from this file: the user
count is the `--users` it was started with, the group count is `--groups`
plus the two BUILT_IN groups the simulator adds (crates/dirsync-okta-sim
README), and member counts and the DEPROVISIONED count are read from the
simulator with plain HTTP calls that do not go through the SDK.

Prints one line per check and, last, `okta-sdk: N passed, M failed`; exits 1
if any check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import traceback
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

# The SDK reads OKTA_CLIENT_* from the environment; our explicit config wins
# for the keys we set, but a stray variable (a proxy, a private key) must not
# change what is tested. OKTA_TESTING_TESTINGDISABLEHTTPSCHECK lets it talk
# plain http to the simulator on loopback.
for _name in [n for n in os.environ if n.startswith("OKTA_CLIENT_")]:
    del os.environ[_name]
os.environ.setdefault("OKTA_TESTING_TESTINGDISABLEHTTPSCHECK", "true")

from okta.client import Client  # noqa: E402
from okta.pagination import PaginationHelper  # noqa: E402
from okta_sdk_private_key import make_private_key_client, register_service_app  # noqa: E402

try:
    from importlib.metadata import version as _dist_version

    SDK_VERSION = _dist_version("okta")
except Exception:  # pragma: no cover - only for a broken install
    SDK_VERSION = "unknown"

# Okta's eight user statuses (the SDK's `UserStatus` enum has exactly these).
STATUSES = [
    "STAGED",
    "PROVISIONED",
    "ACTIVE",
    "RECOVERY",
    "PASSWORD_EXPIRED",
    "LOCKED_OUT",
    "SUSPENDED",
    "DEPROVISIONED",
]
# crates/dirsync-okta-sim/README.md: "the two BUILT_IN groups (`Everyone`,
# `Okta Administrators`) come on top" of `--groups`.
BUILT_IN_GROUPS = {"Everyone", "Okta Administrators"}
MAX_PAGES = 1000  # a guard against a cursor that never ends


class CheckFailed(Exception):
    pass


class SdkCallFailed(Exception):
    """The SDK returned an error where the check expected data."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# --------------------------------------------------------------------------
# Plain HTTP to the simulator, for the expected numbers (no SDK involved).


class Raw:
    def __init__(self, base: str, token: str) -> None:
        self.base = base.rstrip("/")
        self.token = token

    def get(self, path_or_url: str) -> tuple[Any, list[str]]:
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        request = urllib.request.Request(
            url,
            headers={"Authorization": f"SSWS {self.token}", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read().decode("utf-8"))
            return body, response.headers.get_all("Link") or []

    def all_pages(self, path: str) -> list[Any]:
        """Every item of a listing, following `Link: <…>; rel="next"`."""
        items: list[Any] = []
        url: str | None = path
        for _ in range(MAX_PAGES):
            body, links = self.get(url)  # type: ignore[arg-type]
            items.extend(body)
            url = next_link(links)
            if url is None:
                return items
        raise CheckFailed(f"raw listing {path} did not end after {MAX_PAGES} pages")


def next_link(links: list[str]) -> str | None:
    for header in links:
        for part in header.split(","):
            if 'rel="next"' in part:
                return part.split(";")[0].strip().strip("<>")
    return None


def query(path: str, **params: Any) -> str:
    return path + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


# --------------------------------------------------------------------------
# The SDK side.


@dataclass
class Paged:
    items: list[Any] = field(default_factory=list)
    pages: int = 0
    page_sizes: list[int] = field(default_factory=list)


def describe_error(error: Any) -> str:
    code = getattr(error, "error_code", None)
    status = getattr(error, "status", None)
    summary = getattr(error, "error_summary", None)
    if code or status:
        return f"HTTP {status} {code} {summary!r}"
    return f"{type(error).__name__}: {error}"


async def sdk_pages(method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Paged:
    """Pages a list method the way SDK 3.x documents it: call, read the
    `after` cursor of the next page from the `Link` header with
    PaginationHelper.extract_next_cursor, call again with `after=` until
    there is no next link."""
    result = Paged()
    after: str | None = None
    seen: set[str] = set()
    while True:
        data, response, error = await method(*args, after=after, **kwargs)
        if error is not None:
            raise SdkCallFailed(f"page {result.pages + 1} (after={after}): {describe_error(error)}")
        page = list(data or [])
        result.pages += 1
        result.page_sizes.append(len(page))
        result.items.extend(page)
        after = PaginationHelper.extract_next_cursor(response.headers)
        if not after:
            return result
        if after in seen or result.pages >= MAX_PAGES:
            raise CheckFailed(f"cursor {after} repeats or listing exceeds {MAX_PAGES} pages")
        seen.add(after)


def make_client(url: str, token: str) -> Client:
    return Client(
        {
            "orgUrl": url,
            "token": token,
            "authorizationMode": "SSWS",
            "requestTimeout": 30,
            "rateLimit": {"maxRetries": 2},
        }
    )


def sent_auth_header(client: Client, token: str) -> str:
    """The Authorization value the SDK's generated operations send, with the
    token replaced by <token>."""
    try:
        settings = client.configuration.auth_settings()
        values = [s["value"] for s in settings.values() if s.get("key") == "Authorization"]
        value = values[-1] if values else "?"
    except Exception:
        value = "?"
    return value.replace(token, "<token>")


def unique_ids(items: list[Any]) -> int:
    return len({item.id for item in items})


def status_of(user: Any) -> str:
    status = user.status
    return getattr(status, "value", status)


def group_name(group: Any) -> str | None:
    profile = group.profile
    profile = getattr(profile, "actual_instance", None) or profile
    return getattr(profile, "name", None)


# --------------------------------------------------------------------------
# Checks.


class Checker:
    def __init__(self, url: str, token: str, users: int, groups: int, page: int) -> None:
        self.url = url
        self.token = token
        self.users = users
        self.groups = groups
        self.page = page
        self.raw = Raw(url, token)
        self.client = make_client(url, token)
        # Extra keyword arguments for every SDK call; see check_auth_header.
        self.auth: dict[str, Any] = {}
        self.passed = 0
        self.failed = 0
        self.everyone_like: list[dict[str, Any]] = []

    def report(self, ok: bool, name: str, detail: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)

    async def run(self, name: str, check: Callable[[], Awaitable[str]]) -> None:
        try:
            detail = await check()
        except (CheckFailed, SdkCallFailed) as error:
            self.report(False, name, str(error))
        except Exception as error:  # the SDK raising is a failure too
            last = traceback.extract_tb(error.__traceback__)[-1]
            where = f"{os.path.basename(last.filename)}:{last.lineno}"
            self.report(False, name, f"{type(error).__name__} at {where}: {error}")
        else:
            self.report(True, name, detail)

    # 1. The SDK, configured as its README says, is let in.
    async def check_auth_header(self) -> str:
        header = sent_auth_header(self.client, self.token)
        data, _, error = await self.client.list_users(limit=1)
        if error is None:
            expect(len(data or []) == 1, f"expected 1 user with limit=1, got {len(data or [])}")
            return f"the SDK's own Authorization header ({header!r}) is accepted"
        # Keep checking the rest with a well-formed header, sent through the
        # SDK's own per-request override, so one disagreement does not hide
        # the others.
        self.auth = {
            "_request_auth": {
                "in": "header",
                "type": "api_key",
                "key": "Authorization",
                "value": f"SSWS {self.token}",
            }
        }
        raise CheckFailed(
            f"GET /api/v1/users?limit=1 with the SDK's own header "
            f"'Authorization: {header}' (token {token_shape(self.token)}) got "
            f"{describe_error(error)}; the remaining checks send 'SSWS <token>' "
            f"through the SDK's _request_auth instead"
        )

    # 2. All users, every status, through a filter, many pages.
    async def check_users_by_status(self) -> str:
        expression = " or ".join(f'status eq "{s}"' for s in STATUSES)
        paged = await sdk_pages(self.client.list_users, filter=expression, limit=self.page, **self.auth)
        return self.expect_all_users(paged, f"filter on all {len(STATUSES)} statuses")

    # 3. The same through lastUpdated.
    async def check_users_by_last_updated(self) -> str:
        expression = 'lastUpdated gt "1970-01-01T00:00:00.000Z"'
        paged = await sdk_pages(self.client.list_users, filter=expression, limit=self.page, **self.auth)
        return self.expect_all_users(paged, "filter lastUpdated gt 1970")

    def expect_all_users(self, paged: Paged, what: str) -> str:
        count = len(paged.items)
        statuses = sorted({status_of(u) for u in paged.items})
        expect(count == self.users, f"{what}: expected {self.users} users (--users), got {count} in {paged.pages} pages")
        expect(unique_ids(paged.items) == count, f"{what}: {count - unique_ids(paged.items)} duplicate ids across pages")
        expect(paged.pages >= 2, f"{what}: expected several pages of {self.page}, got {paged.pages}")
        expect(max(paged.page_sizes) <= self.page, f"{what}: a page exceeded limit={self.page}: {paged.page_sizes}")
        if self.users >= 8:  # the simulator has every status from 8 users on
            expect(statuses == sorted(STATUSES), f"{what}: statuses seen {statuses}, expected all of {sorted(STATUSES)}")
        return f"{what}: {count} users (= --users) in {paged.pages} pages of <= {self.page}, statuses {', '.join(statuses)}"

    # 4. The plain listing leaves DEPROVISIONED users out.
    async def check_users_default(self) -> str:
        deprovisioned = len(self.raw.all_pages(query("/api/v1/users", filter='status eq "DEPROVISIONED"', limit=200)))
        expected = self.users - deprovisioned
        paged = await sdk_pages(self.client.list_users, limit=self.page, **self.auth)
        count = len(paged.items)
        leaked = sum(1 for u in paged.items if status_of(u) == "DEPROVISIONED")
        expect(
            count == expected,
            f"expected {self.users} - {deprovisioned} DEPROVISIONED = {expected} users, got {count} in {paged.pages} pages",
        )
        expect(leaked == 0, f"{leaked} DEPROVISIONED users in the unfiltered listing")
        expect(unique_ids(paged.items) == count, "duplicate ids across pages")
        return (
            f"no filter: {count} users = {self.users} - {deprovisioned} DEPROVISIONED (raw count) "
            f"in {paged.pages} pages"
        )

    # 5. All groups, paged.
    async def check_groups(self) -> str:
        limit = 10
        expected = self.groups + len(BUILT_IN_GROUPS)
        paged = await sdk_pages(self.client.list_groups, limit=limit, **self.auth)
        count = len(paged.items)
        built_in = {group_name(g) for g in paged.items if getattr(g.type, "value", g.type) == "BUILT_IN"}
        expect(
            count == expected,
            f"expected {self.groups} (--groups) + {len(BUILT_IN_GROUPS)} BUILT_IN = {expected} groups, "
            f"got {count} in {paged.pages} pages",
        )
        expect(unique_ids(paged.items) == count, "duplicate ids across pages")
        expect(built_in == BUILT_IN_GROUPS, f"BUILT_IN groups {sorted(map(str, built_in))}, expected {sorted(BUILT_IN_GROUPS)}")
        return (
            f"{count} groups = {self.groups} (--groups) + BUILT_IN {', '.join(sorted(BUILT_IN_GROUPS))} "
            f"in {paged.pages} pages of <= {limit}"
        )

    # 6. expand=stats as the SDK reads it, against the raw usersCount.
    async def check_group_stats(self) -> str:
        raw_groups = self.raw.all_pages(query("/api/v1/groups", expand="stats", limit=10000))
        raw_counts = {g["id"]: g["_embedded"]["stats"]["usersCount"] for g in raw_groups}
        self.everyone_like = [g for g in raw_groups if g["_embedded"]["stats"]["usersCount"] > 1000]
        paged = await sdk_pages(self.client.list_groups, expand="stats", limit=10000, **self.auth)
        sdk_counts = {
            g.id: (g.embedded.stats.users_count if g.embedded and g.embedded.stats else None) for g in paged.items
        }
        differ = {gid: (raw_counts.get(gid), sdk_counts.get(gid)) for gid in raw_counts.keys() | sdk_counts.keys()}
        differ = {gid: pair for gid, pair in differ.items() if pair[0] != pair[1]}
        expect(not differ, f"usersCount raw vs SDK differ for {len(differ)} groups, e.g. {list(differ.items())[:3]}")
        return f"expand=stats: the SDK's usersCount equals the raw one for all {len(sdk_counts)} groups"

    # 7. Members of every group over 1000 members, limit 1000.
    async def check_big_group_members(self) -> str:
        if not self.everyone_like:
            raw_groups = self.raw.all_pages(query("/api/v1/groups", expand="stats", limit=10000))
            self.everyone_like = [g for g in raw_groups if g["_embedded"]["stats"]["usersCount"] > 1000]
        expect(bool(self.everyone_like), "no group has more than 1000 members (usersCount), nothing to page")
        done = []
        for group in self.everyone_like:
            name = group["profile"]["name"]
            expected = group["_embedded"]["stats"]["usersCount"]
            paged = await sdk_pages(self.client.list_group_users, group["id"], limit=1000, **self.auth)
            count = len(paged.items)
            expect(
                count == expected,
                f"{name} ({group['id']}): expected usersCount {expected}, paged {count} members in {paged.pages} pages",
            )
            expect(unique_ids(paged.items) == count, f"{name}: duplicate member ids across pages")
            expect(paged.pages >= 2, f"{name}: {count} members with limit=1000 came in {paged.pages} page(s)")
            done.append(f"{name} {count} members = usersCount in {paged.pages} pages of <= 1000")
        return "; ".join(done)

    # 8. A wrong token.
    async def check_wrong_token(self) -> str:
        wrong = "wrong-" + self.token
        client = make_client(self.url, wrong)
        auth = {}
        if self.auth:
            auth = {"_request_auth": dict(self.auth["_request_auth"], value=f"SSWS {wrong}")}
        data, _, error = await client.list_users(limit=1, **auth)
        expect(error is not None, f"a wrong token was let in: got {len(data or [])} users")
        code = getattr(error, "error_code", None)
        status = getattr(error, "status", None)
        expect(code == "E0000011", f"expected errorCode E0000011, the SDK's error says {describe_error(error)}")
        expect(status == 401, f"expected HTTP 401, the SDK's error says {describe_error(error)}")
        return f"wrong token: the SDK's {type(error).__name__} carries {describe_error(error)}"

    # 9. Private-key mode (an OAuth 2.0 service app): the SDK's own client
    # assertion gets a token, which pages every user (the default listing,
    # against the raw one through SSWS) ...
    async def check_private_key(self) -> str:
        self.oauth_client = make_private_key_client(self.url, register_service_app(self.url))
        expected = len(self.raw.all_pages(query("/api/v1/users", limit=self.page)))
        paged = await sdk_pages(self.oauth_client.list_users, limit=self.page)
        count = len(paged.items)
        expect(count == expected, f"expected {expected} users (the raw default listing), paged {count}")
        expect(unique_ids(paged.items) == count, "duplicate user ids across pages")
        return f"PrivateKey mode: {count} users in {paged.pages} pages, as through SSWS"

    # 10. ... and a call needing a scope the app was not granted fails.
    async def check_private_key_scope(self) -> str:
        client = getattr(self, "oauth_client", None)
        expect(client is not None, "no private-key client (the previous check failed)")
        data, _, error = await client.list_log_events(limit=1)
        expect(error is not None, f"/api/v1/logs without okta.logs.read was let in: {len(data or [])} events")
        status = getattr(error, "status", None)
        code = getattr(error, "error_code", None)
        expect(status == 403 and code == "E0000006", f"expected HTTP 403 E0000006, got {describe_error(error)}")
        return f"/api/v1/logs without okta.logs.read: {describe_error(error)}"


def token_shape(token: str) -> str:
    return f"of {len(token)} characters"


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the simulator, http://127.0.0.1:PORT")
    parser.add_argument("--users", type=int, required=True, help="--users the simulator was started with")
    parser.add_argument("--groups", type=int, required=True, help="--groups the simulator was started with")
    parser.add_argument("--page", type=int, default=200, help="users page size (limit)")
    args = parser.parse_args()
    token = os.environ.get("OKTA_SDK_CHECK_TOKEN") or os.environ.get("OKTA_SIM_TOKEN") or "sim-token"

    print(f"okta-sdk: okta {SDK_VERSION} (Python {sys.version.split()[0]}) against {args.url}", flush=True)
    checker = Checker(args.url, token, args.users, args.groups, args.page)
    await checker.run("auth header", checker.check_auth_header)
    await checker.run("users, every status", checker.check_users_by_status)
    await checker.run("users, lastUpdated", checker.check_users_by_last_updated)
    await checker.run("users, default listing", checker.check_users_default)
    await checker.run("groups", checker.check_groups)
    await checker.run("groups, expand=stats", checker.check_group_stats)
    await checker.run("members, groups over 1000", checker.check_big_group_members)
    await checker.run("wrong token", checker.check_wrong_token)
    await checker.run("private key, users", checker.check_private_key)
    await checker.run("private key, ungranted scope", checker.check_private_key_scope)
    print(f"okta-sdk: {checker.passed} passed, {checker.failed} failed", flush=True)
    return 0 if checker.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
