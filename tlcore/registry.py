"""One registry pattern for every pluggable family (backbones, domains, strategies).

Shaped after timm's ``register_model`` / ``create_model`` / ``list_models``: entries are
registered by name together with frozen metadata, looked up by name, and listed by a
shell-style pattern. An unknown name raises an error that lists the valid ones, so a
typo in the CLI or a stale config tells the user what to type instead.
"""
from __future__ import annotations

import fnmatch
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

InfoT = TypeVar("InfoT")


class UnknownNameError(KeyError):
    """A name that is not registered; the message lists the valid choices."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True)
class Entry(Generic[InfoT]):
    name: str
    info: InfoT
    factory: Callable


class Registry(Generic[InfoT]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[InfoT]] = {}

    def register(self, name: str, info: InfoT, factory: Callable) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, info, factory)

    def get(self, name: str) -> Entry[InfoT]:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(sorted(self._entries))
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid choices: {valid}") from None

    def names(self, pattern: str = "*") -> list[str]:
        return [n for n in self._entries if fnmatch.fnmatchcase(n, pattern)]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[InfoT]]:
        return iter(self._entries.values())


def import_submodules(package: str, path) -> None:
    """Import every module of ``package`` (its ``__path__``), so each registers what it
    defines: adding a strategy or a backbone family is adding one file, with no list to
    update. Modules whose name starts with an underscore are left alone."""
    for module in pkgutil.iter_modules(path):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package}.{module.name}")
