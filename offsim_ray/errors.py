"""The one exception type the CLI turns into a readable line on stderr."""


class OffSimError(Exception):
    """Bad input or an unusable file; the message names what failed and how to fix it."""


def known_fields(cls, d: dict, what: str) -> dict:
    """`d` unchanged when every key is a field of the dataclass `cls`, else an error naming the others."""
    from dataclasses import fields

    unknown = sorted(set(d) - {f.name for f in fields(cls)})
    if unknown:
        raise OffSimError(f"unknown {what} keys: {', '.join(unknown)}")
    return d


def check_fields(config, checks: dict[str, bool], what: str, hints: dict[str, str] | None = None) -> None:
    """An error naming every field of `config` whose check failed, with its value (and a hint if given)."""
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        hints = hints or {}
        raise OffSimError(f"invalid {what}: " + ", ".join(
            f"{name}={getattr(config, name)!r}" + (f" ({hints[name]})" if name in hints else "") for name in bad))


def read_json(path, missing: str, what: str) -> dict:
    """A JSON file's content; `missing` is the error when it does not exist, `what` names it otherwise."""
    import json

    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise OffSimError(missing) from None
    except (OSError, ValueError) as e:
        raise OffSimError(f"{what}: cannot read {path.name}: {e}") from None
