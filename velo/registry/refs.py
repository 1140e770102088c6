"""Model references, the MLflow way: one string names a model in every command.

- ``velo``: the registry name's champion;
- ``velo@champion``, ``velo@challenger``: by role;
- ``velo/3``: one registered version;
- a folder written by ``velo train``.

A folder that holds a trained model wins over a registry name spelt the same
(``velo`` is also the package's folder, which holds none, so it names the
registry). Every failure is a :class:`RegistryError` with one line that says
what was tried.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from velo.registry.errors import RegistryError
from velo.registry.names import validate_name
from velo.registry.store import Registry

if TYPE_CHECKING:
    from velo.engines.model import VeloModel

ROLES = ("champion", "challenger")
#: the file every folder written by ``velo train`` holds
MODEL_FILE = "sqpe.skops"
_REF = re.compile(r"^(?P<name>[^@/\\]+)(?:@(?P<role>[^@/\\]+)|/(?P<version>[^@/\\]+))?$")


@dataclass(frozen=True)
class ModelRef:
    """What a reference names: a folder, or a registry name with a version or role."""

    text: str
    folder: Path | None = None
    name: str | None = None
    version: str | None = None
    role: str | None = None

    @property
    def label(self) -> str:
        """For reports and plots: which model this is."""
        if self.folder is not None:
            return str(self.folder)
        return f"{self.name} v{self.version}" + (f" ({self.role})" if self.role else "")

    def load(self, registry: Registry) -> VeloModel:
        """The model, its files verified against the registry's record when it is registered."""
        if self.folder is not None:
            from velo.training.artifacts import load_model

            return load_model(self.folder)
        assert self.name is not None and self.version is not None
        return registry.load(self.name, self.version)


def resolve(text: str, registry: Registry) -> ModelRef:
    """The model ``text`` names (see the module doc), or RegistryError."""
    folder = Path(text).expanduser()
    if (folder / MODEL_FILE).is_file():
        return ModelRef(text, folder=folder)
    m = _REF.match(text.strip())
    if m is None:
        raise RegistryError(
            f"{text!r} is not a model: use NAME, NAME@champion, NAME@challenger, NAME/VERSION "
            "or a folder written by `velo train`"
        )
    name, role, version = m["name"], m["role"], m["version"]
    known = registry.names()
    if name not in known:
        where = (
            f"{folder} is a folder with no trained model in it ({MODEL_FILE} missing), and "
            if folder.is_dir()
            else f"{text!r} is not a folder, and "
        )
        listed = ", ".join(known) if known else "none"
        raise RegistryError(
            f"no model {text!r}: {where}the registry at {registry.root.resolve()} has no model named "
            f"{name!r} (known: {listed}; VELO_REGISTRY_DIR sets where it is)"
        )
    if version is not None:
        record = registry.get(name, version)  # a clear RegistryError when there is no such version
        return ModelRef(text, name=name, version=record.version, role=None if record.role == "none" else record.role)
    role = role or "champion"
    if role not in ROLES:
        raise RegistryError(f"{text!r}: unknown role {role!r} (use @champion or @challenger)")
    current = registry.champion(name) if role == "champion" else registry.challenger(name)
    if current is None:
        versions = ", ".join(r.version for r in registry.list(name))
        raise RegistryError(
            f"{name!r} has no {role} (versions: {versions}); "
            f"`velo models {'promote' if role == 'champion' else 'set-challenger'} {name} VERSION` "
            "makes one"
        )
    return ModelRef(text, name=name, version=current.version, role=role)


def served_name(text: str) -> str:
    """The registry name a worker serves (its champion, with the challenger in
    shadow): ``NAME`` or ``NAME@champion``. A single version or role cannot
    be served; RegistryError says how to make it the champion instead."""
    if (Path(text).expanduser() / MODEL_FILE).is_file():
        raise RegistryError(
            f"{text} is a folder written by `velo train`; a worker serves a registry name: "
            f"`velo models register NAME --from {text}`, then `velo models promote NAME "
            "VERSION`"
        )
    m = _REF.match(text.strip())
    if m is None:
        validate_name(text)  # says what is wrong with it
    if m is None or (m["role"] not in (None, "champion")) or m["version"] is not None:
        name = m["name"] if m else text
        raise RegistryError(
            f"{text!r}: a worker serves a name's champion, with its challenger in shadow; give the "
            f"name ({name!r}), and choose the version it serves with `velo models promote {name} "
            "VERSION` or `velo models set-challenger`"
        )
    return m["name"]
