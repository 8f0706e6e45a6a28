"""Output formats of ``binbridge name``: table, JSON and CSV (documented in docs/output-format.md)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

from binbridge.inference.naming import BinaryNaming

FORMATS = ("table", "json", "csv")
CSV_COLUMNS = ("address", "size", "name", "confidence", "source")


def to_json(naming: BinaryNaming, with_analysis: bool = False) -> str:
    document = {
        "binary": naming.info.path,
        "sha256": naming.info.sha256,
        "arch": naming.info.arch,
        "functions": [f.to_dict(with_analysis) for f in naming.functions],
    }
    return json.dumps(document, indent=2) + "\n"


def _has_members(naming: BinaryNaming) -> bool:
    return any(f.member is not None for f in naming.functions)


def to_csv(naming: BinaryNaming, with_analysis: bool = False) -> str:
    columns = (["member"] if _has_members(naming) else []) + list(CSV_COLUMNS)
    columns += ["analysis"] if with_analysis else []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for function in naming.functions:
        writer.writerow(function.to_dict(with_analysis))
    return buffer.getvalue()


def to_table(naming: BinaryNaming, with_analysis: bool = False) -> str:
    rows = [f.to_dict(with_analysis) for f in naming.functions]
    name_width = max([len("name")] + [len(r["name"]) for r in rows])
    # Archive members come first, because an address is only an offset within its member.
    member_width = max([len(r.get("member", "")) for r in rows] + [0])
    if member_width:
        member_width = max(member_width, len("member"))
    lead = f"{'member':<{member_width}}  " if member_width else ""
    lines = [f"{lead}{'address':>18}  {'size':>7}  {'name':<{name_width}}  {'confidence':>10}  source"]
    for row in rows:
        lead = f"{row['member']:<{member_width}}  " if member_width else ""
        lines.append(f"{lead}{row['address']:>18}  {row['size']:>7}  {row['name']:<{name_width}}  "
                     f"{row['confidence']:>10.3f}  {row['source']}")
        if with_analysis and row.get("analysis"):
            lines.append(f"{'':>18}  analysis: {row['analysis']}")
    sources = Counter(r["source"] for r in rows)
    lines.append(f"# {naming.info.path}: {len(rows)} functions, {sources['words'] + sources['model']} named by the model, "
                 f"{sources['signature']} by signatures, {sources['rtti']} from C++ RTTI, "
                 f"{sources['string']} by their strings, "
                 f"{sources['cold']} as cold parts, {sources['runtime']} as start-up code, "
                 f"{sources['symbol']} by symbols")
    return "\n".join(lines) + "\n"


def render(naming: BinaryNaming, output_format: str, with_analysis: bool = False) -> str:
    renderers = {"table": to_table, "json": to_json, "csv": to_csv}
    return renderers[output_format](naming, with_analysis)
