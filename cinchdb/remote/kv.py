"""``RemoteKV``: the key-value store of a remote handle's tenant, as :class:`~cinchdb.kv.KVStore`
over the HTTP API (the same methods, values and errors)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from cinchdb.errors import KeysNotFoundError
from cinchdb.kv import Value, encode, validate_key
from cinchdb.remote._decode import encode_value
from cinchdb.remote._unsupported import unsupported

__all__ = ["RemoteKV"]


class RemoteKV:
    """The handle's tenant's KV store; each call is one request (``kv.<method>`` in the API
    table). Values are checked here as the local store checks them, so a value JSON cannot
    carry is refused with the same error before anything is sent."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call

    def set(self, key: str, value: Value, ttl: float | None = None) -> None:
        validate_key(key)
        encode(value)
        self._call("kv.set", key=key, value=encode_value(value), ttl=ttl)

    def get(self, key: str) -> Any:
        return self._call("kv.get", key=key)

    def exists(self, key: str) -> bool:
        return bool(self._call("kv.exists", key=key))

    def setnx(self, key: str, value: Value, ttl: float | None = None) -> bool:
        validate_key(key)
        encode(value)
        return bool(self._call("kv.setnx", key=key, value=encode_value(value), ttl=ttl))

    def increment(self, key: str, amount: int | float = 1) -> int | float:
        result: int | float = self._call("kv.increment", key=key, amount=amount)
        return result

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        result: int = self._call("kv.delete", keys=list(keys))
        return result

    def expire(self, key: str, ttl: float) -> bool:
        return bool(self._call("kv.expire", key=key, ttl=ttl))

    def ttl(self, key: str) -> int | None:
        result: int | None = self._call("kv.ttl", key=key)
        return result

    def persist(self, key: str) -> bool:
        return bool(self._call("kv.persist", key=key))

    def mset(self, items: Mapping[str, Value], ttl: float | None = None) -> None:
        for key, value in items.items():
            validate_key(key)
            encode(value)
        self._call("kv.mset", items=encode_value(dict(items)), ttl=ttl)

    def mget(self, keys: Iterable[str]) -> dict[str, Any]:
        """As :meth:`KVStore.mget`: raises KeysNotFoundError (naming every one) when a key is
        missing or expired."""
        wanted = list(keys)
        found: dict[str, Any] = self._call("kv.mget", keys=wanted)
        missing = [key for key in dict.fromkeys(wanted) if key not in found]
        if missing:
            raise KeysNotFoundError(missing)
        return {key: found[key] for key in wanted}

    def keys(self, pattern: str = "*") -> list[str]:
        result: list[str] = self._call("kv.keys", pattern=pattern)
        return result

    def count(self, pattern: str = "*") -> int:
        result: int = self._call("kv.count", pattern=pattern)
        return result

    def delete_expired(self) -> NoReturn:
        """Not sent over the API: the server's store purges expired keys as it writes."""
        unsupported("kv.delete_expired")
