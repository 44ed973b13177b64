"""`rules check`: everything wrong with a set of rules, before any record arrives."""

from __future__ import annotations

from logscope.alerting.loader import RuleProblem, RuleSet
from logscope.alerting.model import Rule
from logscope.alerting.predicates import RECORD_COLUMNS, PredicateEvaluator
from logscope.alerting.sandbox import RuleSqlError, expression_columns
from logscope.alerting.sqlrules import result_columns


def check_ruleset(ruleset: RuleSet, format_types: dict[str, str]) -> tuple[list[RuleProblem], list[str]]:
    """Problems (errors) and warnings for the loaded rules, SQL bound against typed columns."""
    problems = list(ruleset.problems)
    warnings: list[str] = []
    evaluator = PredicateEvaluator([], format_types)
    declared: dict[str, tuple[str, str]] = {}
    counting = [rule for rule in ruleset.rules if rule.spec.counting]
    syntax = {id(rule): _syntax_problems(rule, evaluator) for rule in counting}
    parsed = [rule for rule in counting if not syntax[id(rule)]]
    bound = dict(zip(map(id, parsed), evaluator.bind_errors_of(parsed), strict=True))
    for rule in ruleset.rules:
        if rule.kind == "changed_after_marker":
            continue  # (its statement is logscope's own, alerting/markerrules.py)
        if not rule.spec.counting:
            try:
                result_columns(rule, evaluator.con)
            except RuleSqlError as exc:
                problems.append(RuleProblem(rule.file, rule.name, "query", str(exc)))
            continue
        if syntax[id(rule)]:
            problems += syntax[id(rule)]
            continue
        for key, message in bound[id(rule)]:
            problems.append(RuleProblem(rule.file, rule.name, key, message))
        for name, kind in rule.field_types.items():
            earlier = declared.setdefault(name, (kind.upper(), rule.name))
            if earlier[0] != kind.upper():
                message = f"{name} is {kind} here but {earlier[0]} in rule {earlier[1]!r}; use one type"
                problems.append(RuleProblem(rule.file, rule.name, "fields", message))
        warnings += _untyped_fields(rule, evaluator, format_types)
    return problems, warnings


def _syntax_problems(rule: Rule, evaluator: PredicateEvaluator) -> list[RuleProblem]:
    problems = []
    expressions = [("where", rule.where), ("total", rule.total)] + [
        (f"extract.{name}", text) for name, text in rule.extract.items()
    ]
    for key, expression in expressions:
        try:
            expression_columns(evaluator.con, expression)
        except RuleSqlError as exc:
            problems.append(RuleProblem(rule.file, rule.name, key, str(exc)))
    return problems


def _untyped_fields(rule: Rule, evaluator: PredicateEvaluator, format_types: dict[str, str]) -> list[str]:
    names = set()
    for expression in (rule.where, rule.total, *rule.extract.values()):
        names |= expression_columns(evaluator.con, expression)
    names |= {name for name in rule.group_names if name not in rule.extract}
    untyped = sorted(
        name
        for name in names
        if name not in RECORD_COLUMNS and name not in format_types and name not in rule.field_types
    )
    return [
        f"{rule.file}: rule {rule.name!r}: {name!r} is not a field of any known format, so it is read"
        f" as VARCHAR (declare its type under `fields` if it is a number)"
        for name in untyped
    ]
