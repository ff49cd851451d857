"""Deciding reads: rules, globs, readers, groups, purposes and the default."""

from __future__ import annotations

from runstate.policy.document import parse_policy
from runstate.policy.rules import Identity, decide, match_rule, reachable_rules

DOC = parse_policy(
    """\
version: 1
default: deny
groups:
  risk: [alice]
datasets:
  customers:
    readers:
      - principals: [svc-scoring, "group:risk"]
        purposes: [scoring]
      - principals: ["*"]
        purposes: [audit]
    row_filter: "consent"
    columns: {ssn: drop}
  "crm.*":
    readers:
      - principals: [bob]
  "crm.accounts*":
    readers:
      - principals: [carol]
  "crm.secret":
    readers: []
  public:
"""
)


def _who(
    principal: str | None, purpose: str | None = None, groups: tuple[str, ...] = ()
) -> Identity:
    return Identity(principal, purpose, groups)


def test_listed_principal_and_purpose_are_allowed_with_the_rule_applied() -> None:
    decision = decide(DOC, "customers", _who("svc-scoring", "scoring"))
    assert decision.allowed and decision.rule == "customers" and decision.reader == 0
    assert decision.row_filter == "consent" and decision.columns == {"ssn": "drop"}
    assert decision.transforms


def test_wrong_purpose_or_unknown_principal_is_denied_naming_the_rule() -> None:
    for identity in (_who("svc-scoring", "marketing"), _who("mallory", "scoring"), _who(None)):
        decision = decide(DOC, "customers", identity)
        assert not decision.allowed
        assert "rule 'customers'" in decision.reason


def test_wildcard_principal_for_one_purpose() -> None:
    decision = decide(DOC, "customers", _who("anyone", "audit"))
    assert decision.allowed and decision.reader == 1
    assert not decide(DOC, "customers", _who("anyone", None)).allowed


def test_groups_from_the_document_and_from_the_environment() -> None:
    assert decide(DOC, "customers", _who("alice", "scoring")).allowed  # groups: in the doc
    assert not decide(DOC, "customers", _who("dave", "scoring")).allowed
    assert decide(DOC, "customers", _who("dave", "scoring", ("risk",))).allowed  # env groups
    env = Identity.from_env(environ={"RUNSTATE_PRINCIPAL": "dave", "RUNSTATE_PURPOSE": "scoring",
                                     "RUNSTATE_GROUPS": "ops, risk"})  # fmt: skip
    assert env == Identity("dave", "scoring", ("ops", "risk"))
    assert Identity.from_env("erin", None, env := {"RUNSTATE_PRINCIPAL": "x"}).principal == "erin"
    assert env  # explicit values win over the environment


def test_default_deny_and_default_allow() -> None:
    denied = decide(DOC, "orders", _who("alice", "scoring"))
    assert not denied.allowed and denied.rule is None
    assert "default is deny" in denied.reason
    allow_doc = parse_policy("version: 1\ndefault: allow\ndatasets: {}\n")
    allowed = decide(allow_doc, "orders", _who(None))
    assert allowed.allowed and allowed.rule is None and not allowed.transforms


def test_globs_most_specific_wins_exact_name_first() -> None:
    assert match_rule(DOC, "crm.contacts").pattern == "crm.*"  # type: ignore[union-attr]
    assert match_rule(DOC, "crm.accounts_eu").pattern == "crm.accounts*"  # type: ignore[union-attr]
    assert match_rule(DOC, "crm.secret").pattern == "crm.secret"  # type: ignore[union-attr]
    assert match_rule(DOC, "crmx") is None
    assert decide(DOC, "crm.contacts", _who("bob")).allowed
    assert not decide(DOC, "crm.accounts_eu", _who("bob")).allowed  # the narrower rule decides
    assert decide(DOC, "crm.accounts_eu", _who("carol")).allowed


def test_empty_readers_means_nobody_and_absent_readers_means_anyone() -> None:
    assert not decide(DOC, "crm.secret", _who("bob")).allowed
    assert decide(DOC, "public", _who(None)).allowed


def test_reachable_rules_for_prechecks() -> None:
    assert {r.pattern for r in reachable_rules(DOC, _who("bob"))} == {"crm.*", "public"}
    no_public = parse_policy(
        "version: 1\ndefault: deny\ndatasets:\n  a:\n    readers: [{principals: [x]}]\n"
    )
    assert reachable_rules(no_public, _who("y")) == []
