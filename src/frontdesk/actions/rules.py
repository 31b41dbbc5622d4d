"""Creating, changing, ordering and deleting automation rules. Management only; every
change is an event (``rule.created``, ``rule.updated``, ``rule.deleted``, ``rule.reordered``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from frontdesk.actions.base import Tx, get_owned
from frontdesk.db.models import AutomationRule, AutomationRuleSet, CustomFieldDefinition
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotPermitted, ValidationFailed
from frontdesk.domain.fields import FieldType
from frontdesk.domain.rules import RULE_KEYS, RuleDefinition, parse_rule

MAX_RULES = 5000


def _require_management(tx: Tx, what: str) -> None:
    if not tx.actor.is_management:
        raise NotPermitted(f"only management may {what}")


async def _parse(tx: Tx, data: Any) -> RuleDefinition:
    """A rule checked against the workspace's custom field definitions."""
    rows = (await tx.session.execute(select(CustomFieldDefinition.key, CustomFieldDefinition.field_type)
                                     .where(CustomFieldDefinition.workspace_id == tx.workspace_id))).all()
    return parse_rule(data, custom_fields={key: FieldType(kind) for key, kind in rows})


async def _bump_rule_set(tx: Tx) -> None:
    """Tell every process's automation hook that the workspace's rules changed."""
    assert tx.db is not None, "actions run in a desk's transaction"
    stmt = tx.db.insert(AutomationRuleSet).values(workspace_id=tx.workspace_id, version=1, updated_at=tx.now)
    await tx.session.execute(stmt.on_conflict_do_update(
        index_elements=[AutomationRuleSet.workspace_id],
        set_={"version": AutomationRuleSet.version + 1, "updated_at": stmt.excluded.updated_at}))


def rule_json(rule: AutomationRule) -> dict[str, Any]:
    """A rule as the API shows it: its definition with the columns beside it."""
    definition = rule.definition or {}
    return {
        "id": rule.id, "name": rule.name, "enabled": rule.enabled, "position": rule.position,
        "trigger": rule.trigger, "keywords": definition.get("keywords", []),
        "conditions": definition.get("conditions"), "actions": definition.get("actions", []),
        "stop_processing": definition.get("stop_processing", False), "version": rule.version,
        "created_at": rule.created_at.isoformat(), "updated_at": rule.updated_at.isoformat(),
        "created_by_id": rule.created_by_id,
    }


def _editable(rule: AutomationRule) -> dict[str, Any]:
    shown = rule_json(rule)
    return {k: shown[k] for k in RULE_KEYS}


async def get_rule_row(tx: Tx, rule_id: int, *, for_update: bool = False) -> AutomationRule:
    return await get_owned(tx, AutomationRule, rule_id, what=f"rule {rule_id}", for_update=for_update)


async def create_rule(tx: Tx, data: Any) -> AutomationRule:
    """Add a rule (checked whole; 422 names the bad field). Without a position it goes last.
    Management only. Emits ``rule.created``."""
    _require_management(tx, "create automation rules")
    definition = await _parse(tx, data)
    count, last = (await tx.session.execute(
        select(func.count(), func.max(AutomationRule.position))
        .where(AutomationRule.workspace_id == tx.workspace_id))).one()
    if count >= MAX_RULES:
        raise ValidationFailed(f"a workspace has at most {MAX_RULES} rules", field="rule")
    rule = AutomationRule(
        workspace_id=tx.workspace_id, name=definition.name, enabled=definition.enabled,
        position=definition.position if definition.position is not None else (last or 0) + 1,
        trigger=definition.trigger.value, definition=definition.stored(), version=1,
        created_at=tx.now, updated_at=tx.now, created_by_id=tx.actor.member_id)
    tx.session.add(rule)
    await tx.session.flush()
    await _bump_rule_set(tx)
    await tx.record(ev.RULE_CREATED, rule_id=rule.id, name=rule.name, after=_editable(rule))
    return rule


async def update_rule(tx: Tx, rule_id: int, changes: dict[str, Any]) -> AutomationRule:
    """Change some keys of a rule; the result is checked whole. Management only. Emits
    ``rule.updated`` with before and after (nothing when nothing changed)."""
    _require_management(tx, "change automation rules")
    if not isinstance(changes, dict):
        raise ValidationFailed("changes must be an object", field="rule")
    rule = await get_rule_row(tx, rule_id, for_update=True)
    before = _editable(rule)
    merged = {**before, **changes}
    if changes.get("trigger", "keyword") != "keyword" and "keywords" not in changes:
        merged["keywords"] = []  # they belonged to the keyword trigger being replaced
    definition = await _parse(tx, merged)
    position = definition.position if definition.position is not None else rule.position
    after = {**definition.stored(), "name": definition.name, "enabled": definition.enabled,
             "trigger": definition.trigger.value, "position": position}
    if after == {k: before[k] for k in after}:
        return rule
    rule.name, rule.enabled, rule.trigger, rule.position = definition.name, definition.enabled, \
        definition.trigger.value, position
    rule.definition = definition.stored()
    rule.version += 1
    rule.updated_at = tx.now
    await _bump_rule_set(tx)
    await tx.record(ev.RULE_UPDATED, rule_id=rule.id, name=rule.name, before=before, after=_editable(rule))
    return rule


async def delete_rule(tx: Tx, rule_id: int) -> None:
    """Delete a rule; its runs stay (without the rule). Management only. Emits ``rule.deleted``."""
    _require_management(tx, "delete automation rules")
    rule = await get_rule_row(tx, rule_id, for_update=True)
    before = _editable(rule)
    await tx.session.delete(rule)
    await _bump_rule_set(tx)
    await tx.record(ev.RULE_DELETED, rule_id=rule_id, name=before["name"], before=before)


async def reorder_rules(tx: Tx, ids: Any) -> list[AutomationRule]:
    """Put the workspace's rules in the order of ``ids`` (every rule exactly once), positions
    1, 2, ... Management only. Emits ``rule.reordered`` with the old and new order."""
    _require_management(tx, "reorder automation rules")
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise ValidationFailed("ids must be a list of rule ids", field="ids")
    rules = list((await tx.session.execute(
        select(AutomationRule).where(AutomationRule.workspace_id == tx.workspace_id)
        .order_by(AutomationRule.position, AutomationRule.id).with_for_update())).scalars())
    if len(set(ids)) != len(ids):
        raise ValidationFailed("ids lists a rule twice", field="ids")
    by_id = {r.id: r for r in rules}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ValidationFailed(f"rule {unknown[0]} not found", field="ids")
    if len(ids) != len(rules):
        missing = sorted(set(by_id) - set(ids))
        raise ValidationFailed(f"ids must list every rule; missing {missing[:10]}", field="ids")
    before = [r.id for r in rules]
    for position, rule_id in enumerate(ids, start=1):
        rule = by_id[rule_id]
        if rule.position != position:
            rule.position = position
            rule.updated_at = tx.now
    if before != ids:
        await _bump_rule_set(tx)
        await tx.record(ev.RULES_REORDERED, before={"ids": before}, after={"ids": ids})
    return [by_id[i] for i in ids]
