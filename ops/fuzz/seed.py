"""Seeds a freshly started Bothy server for the API fuzz (ops/fuzz/api), through the API
itself: logs in as the first admin, creates the project, site, activity, users and devices
that ops/fuzz/schemathesis.toml names in its path parameters, and, with the `bothy` command
line as a field device, two participants synced to the server (one to read, one to erase).

Usage: seed.py BASE_URL ADMIN_PASSWORD BOTHY_CLI WORK_DIR
Prints `ADMIN_TOKEN=...`, `DEVICE_TOKEN=...`, `DEVICE_ID=...`, `RECORD_ID=...` and
`ERASE_ID=...` lines for the shell.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit(f"seeding: {method} {path} answered {e.code}: {e.read().decode(errors='replace')}")


def cli(bothy, store, password, *args):
    """Runs the `bothy` command line on the device store `store`; returns its JSON answer."""
    # The CLI keeps its store encrypted: the PIN comes from the environment, as in scripts.
    env = dict(os.environ, BOTHY_PASSWORD=password, BOTHY_PIN="fuzz-pin-2026")
    done = subprocess.run(
        [bothy, "--store", store, "--json", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"seeding: bothy {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def main():
    base, password, bothy, work = sys.argv[1:5]
    token = call(base, "POST", "/api/v1/auth/login", {"username": "admin", "password": password})[
        "access_token"
    ]
    admin = "/api/v1/admin"
    call(base, "POST", f"{admin}/projects", {"slug": "fuzz", "name": "Fuzz"}, token)
    call(base, "POST", f"{admin}/projects/fuzz/sites", {"slug": "fuzz-site", "name": "Site"}, token)
    call(
        base,
        "POST",
        f"{admin}/projects/fuzz/activities",
        {"slug": "fuzz-activity", "name": "Walk", "activity_type": "walking", "site": "fuzz-site"},
        token,
    )
    # The admin is a member too, so project endpoints answer as for a project admin.
    call(base, "POST", f"{admin}/projects/fuzz/members", {"username": "admin", "role": "admin"}, token)
    for user, role in [("fuzz-researcher", "researcher"), ("fuzz-leaver", "peer_worker")]:
        call(base, "POST", f"{admin}/users", {"username": user, "password": "fuzz-password-1"}, token)
        call(base, "POST", f"{admin}/projects/fuzz/members", {"username": user, "role": role}, token)
    # Two devices: one syncs through the whole run, the other is there to be revoked.
    syncing = call(base, "POST", "/api/v1/devices/register", {"name": "fuzz sync"}, token)
    revoked = call(base, "POST", "/api/v1/devices/register", {"name": "fuzz revoke"}, token)
    # Records, made on a field device as researchers make them, then synced.
    store = os.path.join(work, "device.db")
    cli(bothy, store, password, "login", "--server", base, "--user", "admin", "--name", "fuzz cli")
    people = [
        cli(bothy, store, password, "participant", "add", "--project", "fuzz", "--consent-data-use",
            "--age-band", "25-34")["id"]
        for _ in range(2)
    ]
    cli(bothy, store, password, "sync")
    print(f"ADMIN_TOKEN={token}")
    print(f"RECORD_ID={people[0]}")
    print(f"ERASE_ID={people[1]}")
    print(f"DEVICE_TOKEN={syncing['device_token']}")
    print(f"DEVICE_ID={revoked['device_id']}")


if __name__ == "__main__":
    main()
