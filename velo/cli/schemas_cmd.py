"""``velo schemas``: write or check the generated JSON Schema files."""

from __future__ import annotations

import click


@click.command()
@click.option("--check", is_flag=True, help="exit 1 if the files are stale instead of writing them")
def schemas(check: bool) -> None:
    """Generate schemas/json/*.json from the message contracts."""
    from schemas.jsonschema import JSON_DIR, stale_files, write

    if check:
        stale = stale_files()
        if stale:
            raise click.ClickException(f"stale JSON Schema files in {JSON_DIR}: {', '.join(stale)}")
        click.echo("JSON Schema files are up to date")
        return
    for name in write():
        click.echo(f"wrote {JSON_DIR / name}")
