"""The dotted paths of indexed fields, each checked against the field list once, at import.

Queries and aggregations name fields by path (``userIdentity.type``, ``trailql.principal``).
Written here through :func:`field_path` and :func:`derived_path`, a path that is not in the
field list or the derived mapping fails the import, instead of matching nothing at run time.
"""

from __future__ import annotations

from schema.document import DERIVED
from schema.fields import field_path
from schema.mapping import event_mapping


def derived_path(name: str) -> str:
    """The path of a field TrailQL derives for searching, such as ``principal``."""
    if name not in event_mapping()["properties"][DERIVED]["properties"]:
        raise LookupError(f"{name} is not a derived field (schema/mapping.py)")
    return f"{DERIVED}.{name}"


EVENT_ID = field_path("eventID")
EVENT_TIME = field_path("eventTime")
EVENT_SOURCE = field_path("eventSource")
EVENT_NAME = field_path("eventName")
EVENT_TYPE = field_path("eventType")
EVENT_CATEGORY = field_path("eventCategory")
AWS_REGION = field_path("awsRegion")
ACCOUNT_ID = field_path("recipientAccountId")
SOURCE_IP_ADDRESS = field_path("sourceIPAddress")
USER_AGENT = field_path("userAgent")
ERROR_CODE = field_path("errorCode")
READ_ONLY = field_path("readOnly")
MANAGEMENT_EVENT = field_path("managementEvent")
RESOURCE_ARN = field_path("resources", "ARN")
USER_IDENTITY_TYPE = field_path("userIdentity", "type")
USER_ARN = field_path("userIdentity", "arn")
USER_NAME = field_path("userIdentity", "userName")
PRINCIPAL_ID = field_path("userIdentity", "principalId")
ACCESS_KEY_ID = field_path("userIdentity", "accessKeyId")
ISSUER_ARN = field_path("userIdentity", "sessionContext", "sessionIssuer", "arn")
ISSUER_NAME = field_path("userIdentity", "sessionContext", "sessionIssuer", "userName")

PRINCIPAL = derived_path("principal")
SOURCE_IP = derived_path("sourceIp")
LOG_GROUP_NAME = derived_path("logGroupName")
SEARCH_TEXT = derived_path("text")
REQUEST_PARAMETERS = derived_path("requestParameters")
RESPONSE_ELEMENTS = derived_path("responseElements")
INDEXED_AT = derived_path("indexedAt")
LOG_FILE = derived_path("logFile")
