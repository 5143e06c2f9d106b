"""Detections: Sigma rules over the stored events, and the findings they raise.

Imports only ``common/`` and ``schema/`` (and libraries): the indexer, the API and the
command line use it; it uses none of them.
"""

from detections.evaluation import Detector, Outcome, Window
from detections.extensions import Trust
from detections.findings import (
    Finding,
    Status,
    StatusChangeError,
    created_after_request,
    ensure_findings_index,
    finding_id,
    findings_created_after,
    findings_index,
    record_finding,
    save_findings,
    status_change,
)
from detections.rules import (
    CorrelationRule,
    EventRule,
    Rule,
    RuleError,
    RuleInfo,
    RulePack,
    load_rules,
)
from detections.settings import DetectionSettings

__all__ = [
    "CorrelationRule",
    "DetectionSettings",
    "Detector",
    "EventRule",
    "Finding",
    "Outcome",
    "Rule",
    "RuleError",
    "RuleInfo",
    "RulePack",
    "Status",
    "StatusChangeError",
    "Trust",
    "Window",
    "created_after_request",
    "ensure_findings_index",
    "finding_id",
    "findings_created_after",
    "findings_index",
    "load_rules",
    "record_finding",
    "save_findings",
    "status_change",
]
