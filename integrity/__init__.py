"""Log-file integrity: proving the trail files are the ones CloudTrail delivered.

CloudTrail signs an hourly digest of the log files it delivered, chained digest to digest.
This package reads digests (:mod:`integrity.digests`), CloudTrail's public keys
(:mod:`integrity.keys`), checks signatures (:mod:`integrity.signatures`), walks chains and
hashes log files (:mod:`integrity.chain`) over what :mod:`integrity.inventory` finds in
folders and S3, and says what it found in the words of :mod:`integrity.verdicts`. It imports
only ``common`` and libraries: the command line and the indexer build on it.
"""

from integrity.chain import ReadDigest, read_digest, verify
from integrity.digests import Digest, DigestFormatError, ListedFile, parse_digest, sha256_hex
from integrity.findings import IntegrityFinding, report_finding, set_finding_recorder
from integrity.inventory import (
    SIGNATURE_SUFFIX,
    FileReadError,
    Inventory,
    InventoryError,
    hash_uncompressed,
    take_inventory,
)
from integrity.keys import (
    CloudTrailKeys,
    FixedKeys,
    KeySource,
    PublicKey,
    PublicKeyError,
    keys_of_listing,
    read_key_files,
)
from integrity.names import (
    DigestName,
    Location,
    LogFileName,
    Scope,
    digest_name,
    is_digest_key,
    log_file_name,
)
from integrity.signatures import SignatureCheck, check_signature, signed_text
from integrity.verdicts import (
    FAILED_DIGEST_VERDICTS,
    FAILED_FILE_VERDICTS,
    DigestResult,
    DigestVerdict,
    FileResult,
    FileVerdict,
    Gap,
    GapReason,
    Problem,
    Report,
    is_covered,
    stored_file_verdict,
)

__all__ = [
    "FAILED_DIGEST_VERDICTS",
    "FAILED_FILE_VERDICTS",
    "SIGNATURE_SUFFIX",
    "CloudTrailKeys",
    "Digest",
    "DigestFormatError",
    "DigestName",
    "DigestResult",
    "DigestVerdict",
    "FileReadError",
    "FileResult",
    "FileVerdict",
    "FixedKeys",
    "Gap",
    "GapReason",
    "IntegrityFinding",
    "Inventory",
    "InventoryError",
    "KeySource",
    "ListedFile",
    "Location",
    "LogFileName",
    "Problem",
    "PublicKey",
    "PublicKeyError",
    "ReadDigest",
    "Report",
    "Scope",
    "SignatureCheck",
    "check_signature",
    "digest_name",
    "hash_uncompressed",
    "is_covered",
    "is_digest_key",
    "keys_of_listing",
    "log_file_name",
    "parse_digest",
    "read_digest",
    "read_key_files",
    "report_finding",
    "set_finding_recorder",
    "sha256_hex",
    "signed_text",
    "stored_file_verdict",
    "take_inventory",
    "verify",
]
