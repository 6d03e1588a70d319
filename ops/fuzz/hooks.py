"""Schemathesis hooks for ops/fuzz/api: the rules that span several parameters, which JSON
Schema cannot state, and the sync endpoint's binary body.

- `from` after `to` is refused (400 `invalid_query`): drawn cases with both dates in that
  order are left out, so a refusal of a schema-valid request is always a real finding.
- An export's `timepoint` applies to the wellbeing dataset only (400 otherwise).
"""

import re

import schemathesis

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@schemathesis.hook
def filter_case(context, case):
    query = case.query or {}
    start, end = query.get("from"), query.get("to")
    if (
        isinstance(start, str)
        and isinstance(end, str)
        and DATE.match(start)
        and DATE.match(end)
        and start > end
    ):
        return False
    dataset = (case.path_parameters or {}).get("dataset")
    if dataset is not None and dataset != "wellbeing" and "timepoint" in query:
        return False
    return True


@schemathesis.serializer("application/vnd.bothy.sync")
def sync_body(ctx, value):
    """The sync body is binary (docs/protocol.md): sent as drawn."""
    if isinstance(value, bytes):
        return value
    return str(value).encode()
