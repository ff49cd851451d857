"""Policy documents: parsing, validation errors with line and field, the published schema."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from runstate.errors import PolicyError, UsageError
from runstate.policy.document import PolicyDocument, parse_policy
from schemas import validate

GOOD = """\
version: 1
default: deny              # what a dataset with no rule gets
groups:
  risk: [alice, svc-scoring]
datasets:
  customers:
    readers:
      - principals: [svc-scoring, "group:risk"]
        purposes: [scoring, training]
    row_filter: "consent = true OR region <> 'EU'"
    columns: {ssn: drop, email: hash, name: redact, id: allow}
  "crm.*":
    readers: []
  public:
"""


def _schema_accepts(text: str) -> bool:
    data: Any = yaml.safe_load(text)
    if not isinstance(data, dict):
        return False
    try:
        validate({"schema": "runstate.policy-document/v1", **data})
    except AssertionError:
        return False
    return True


def test_a_good_document_parses_into_rules() -> None:
    doc = parse_policy(GOOD, "p.yaml")
    assert doc.default == "deny"
    assert doc.groups == {"risk": ("alice", "svc-scoring")}
    rule = doc.datasets["customers"]
    assert rule.row_filter == "consent = true OR region <> 'EU'"
    assert rule.columns == {"ssn": "drop", "email": "hash", "name": "redact", "id": "allow"}
    assert rule.readers is not None and rule.readers[0].purposes == ("scoring", "training")
    assert rule.line == 6
    assert doc.datasets["crm.*"].readers == ()  # nobody
    assert doc.datasets["public"].readers is None  # anyone
    assert doc.needs_mask_key


def test_canonical_form_round_trips_and_matches_the_schema() -> None:
    doc = parse_policy(GOOD)
    again = PolicyDocument.from_dict(doc.to_dict())
    assert again == doc
    assert again.to_dict() == doc.to_dict()
    validate(doc.to_dict())  # the stored (canonical) form is valid too
    assert _schema_accepts(GOOD)
    assert parse_policy(f"schema: runstate.policy-document/v1\n{GOOD}") == doc  # optional
    with pytest.raises(PolicyError, match=r"p\.yaml:1: schema: 'x/v1': expected"):
        parse_policy(f"schema: x/v1\n{GOOD}", "p.yaml")


def test_invalid_yaml_names_the_line() -> None:
    text = "version: 1\ndefault: deny\ndatasets:\n  customers: {readers: [\n"
    with pytest.raises(PolicyError, match=r"^p\.yaml:5: invalid YAML"):
        parse_policy(text, "p.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\ndefault: deny\ndatasets: {}\n", r"p\.yaml:1: version: 2 is not a supported"),
        ("version: 1\ndefault: maybe\ndatasets: {}\n", r"p\.yaml:2: default: 'maybe' is not one"),
        (
            "version: 1\ndefault: deny\n",
            r"p\.yaml:1: \(document\): missing required field 'datasets'",
        ),
        (
            "version: 1\ndefault: deny\ndatasets:\n  c:\n    columns: {ssn: dorp}\n",
            r"p\.yaml:5: datasets\.c\.columns\.ssn: 'dorp' is not one of drop, redact, hash, allow",
        ),
        (
            "version: 1\ndefault: deny\ndatasets:\n  c:\n    readers:\n      - principals: [a]\n"
            "        purpose: [x]\n",
            r"p\.yaml:7: datasets\.c\.readers\[0\]\.purpose: unknown field",
        ),
        (
            "version: 1\ndefault: deny\ndatasets:\n  c:\n    readers:\n      - principals: []\n",
            r"p\.yaml:6: datasets\.c\.readers\[0\]\.principals: must be a non-empty list",
        ),
        (
            "version: 1\ndefault: deny\ndatasets:\n  c:\n    rowfilter: x\n",
            r"p\.yaml:5: datasets\.c\.rowfilter: unknown field",
        ),
        (
            "version: 1\ndefault: deny\ndatasets:\n  c: {}\n  c: {}\n",
            r"p\.yaml:5: datasets\.c: duplicate key \(first on line 4\)",
        ),
        ("- a\n- b\n", r"p\.yaml:1: \(document\): a policy document is a mapping"),
    ],
)
def test_schema_violations_name_the_line_and_field(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message) as caught:
        parse_policy(text, "p.yaml")
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2
    if "duplicate" not in message:  # JSON has no duplicate keys: YAML-only check
        assert not _schema_accepts(text)  # the published schema refuses it too


@pytest.mark.parametrize(
    "expression",
    ["consent = = true", "region <> 'EU", "(a = 1", "a = 1) OR (b = 2", "a = 1; DROP TABLE x"],
)
def test_a_row_filter_that_does_not_parse_is_refused_with_its_line(expression: str) -> None:
    text = f'version: 1\ndefault: deny\ndatasets:\n  c:\n    row_filter: "{expression}"\n'
    with pytest.raises(PolicyError, match=r"p\.yaml:5: datasets\.c\.row_filter: does not parse"):
        parse_policy(text, "p.yaml")
