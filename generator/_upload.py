"""Putting a generated folder into a bucket as CloudTrail would have delivered it.

Each digest's signature, kept beside it in the folder (``<digest>.sig``), becomes the object's
metadata (``x-amz-meta-signature`` and ``x-amz-meta-signature-algorithm``), where CloudTrail
puts it; the ``.sig`` files themselves are not uploaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from generator._digests import SIGNATURE_SUFFIX

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def upload(folder: Path, s3: S3Client, bucket: str, prefix: str = "") -> int:
    """Upload every file under ``folder`` to ``bucket`` under ``prefix``; how many objects."""
    count = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.endswith(SIGNATURE_SUFFIX):
            continue
        key = prefix + path.relative_to(folder).as_posix()
        signature = path.with_name(path.name + SIGNATURE_SUFFIX)
        metadata = (
            {
                "signature": signature.read_text(encoding="ascii").strip(),
                "signature-algorithm": "SHA256withRSA",
            }
            if signature.exists()
            else {}
        )
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), Metadata=metadata)
        count += 1
    return count
