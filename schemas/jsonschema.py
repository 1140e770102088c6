"""Generate ``schemas/json/*.json`` from the contracts.

Run ``python -m schemas.jsonschema`` after changing a contract; a test fails
while the committed files are stale, so other-language producers never read an
out-of-date contract.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas import CONTRACTS

JSON_DIR = Path(__file__).parent / "json"


def render() -> dict[str, str]:
    """File name -> file text for every contract."""
    out = {}
    for name, model in CONTRACTS.items():
        schema = model.model_json_schema(mode="validation")
        schema["$id"] = f"https://velo-oracle/schemas/{name}.v{model.SCHEMA_VERSION}.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        out[f"{name}.v{model.SCHEMA_VERSION}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of files that are missing, differ, or should not exist."""
    wanted = render()
    present = {p.name for p in directory.glob("*.json")} if directory.exists() else set()
    bad = [n for n, text in wanted.items() if not (directory / n).exists() or (directory / n).read_text() != text]
    bad += sorted(present - set(wanted))
    return bad


def write(directory: Path = JSON_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = render()
    for name, text in wanted.items():
        (directory / name).write_text(text)
    for p in directory.glob("*.json"):
        if p.name not in wanted:
            p.unlink()
    return sorted(wanted)


if __name__ == "__main__":
    for name in write():
        print(f"wrote {JSON_DIR / name}")
    sys.exit(0)
