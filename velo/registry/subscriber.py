"""Keep a worker's champion and challenger in step with the registry.

Events are triggers, the index is the truth: on any event for our model name
the holder re-reads the index, loads (and verifies) whatever is now champion
and challenger, and only then swaps the references. A load that fails leaves
the running model in place. Work already holding the old reference finishes
on it; the next piece of work sees the new one. ``swap_error`` says whether
the holder is behind the registry (the last swap was refused) so a worker's
health check can report it while it keeps serving.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from schemas import RegistryEvent
from velo.engines.model import VeloModel
from velo.registry.record import ModelRecord
from velo.registry.store import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    record: ModelRecord
    model: VeloModel


class ModelHolder:
    def __init__(self, registry: Registry, name: str) -> None:
        self.registry = registry
        self.name = name
        self.champion: Loaded | None = None
        self.challenger: Loaded | None = None
        #: every refused swap, oldest first (a log for tests and debugging)
        self.errors: list[str] = []
        self._swap_error: str | None = None
        self._lock = threading.Lock()

    @property
    def swap_error(self) -> str | None:
        """Why the latest swap was refused, or None once a catch_up succeeds.

        Not None means the running models are not what the registry names.
        """
        return self._swap_error

    def _load(self, rec: ModelRecord | None, current: Loaded | None) -> Loaded | None:
        if rec is None:
            return None
        if current is not None and current.record.version == rec.version:
            return Loaded(rec, current.model)
        return Loaded(rec, self.registry.load(rec.name, rec.version))

    def catch_up(self) -> bool:
        """Read the index and swap in what it says; True if anything changed.

        Called at start (a worker that missed events needs nothing else) and
        on every event.
        """
        with self._lock:
            try:
                champ = self._load(self.registry.champion(self.name), self.champion)
                chall = self._load(self.registry.challenger(self.name), self.challenger)
            except Exception as exc:  # keep serving the old models, say why
                msg = f"registry swap for {self.name} refused, keeping the running models: {exc}"
                log.error(msg)
                self.errors.append(msg)
                self._swap_error = msg
                return False
            self._swap_error = None
            changed = (_version(champ) != _version(self.champion)) or (_version(chall) != _version(self.challenger))
            self.champion, self.challenger = champ, chall  # one assignment each: atomic for readers
            return changed

    def on_event(self, event: RegistryEvent) -> bool:
        if event.model_name != self.name:
            return False
        return self.catch_up()


def _version(x: Loaded | None) -> str | None:
    return None if x is None else x.record.version
