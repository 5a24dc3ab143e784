"""What ``tc-build``'s MODEL argument names, resolved into something ``compile_model``
takes: an ONNX file (with ``--input-shape NAME=...`` for symbolic dims), a saved
``torch.export`` program (``.pt2``), or ``MODULE:CALLABLE`` naming a function (importable
from the current directory, as with ``python -m``) that returns a PyTorch ``nn.Module``,
exported on random inputs of the shapes and dtypes given by ``--input-shape`` and
``--input-dtype``."""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import re
import sys

#: ``pkg.module:callable`` (the callable may be a dotted attribute path)
_FACTORY = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


class UsageError(Exception):
    """A mistake in tc-build's arguments or model: printed as one message, exit code 1."""


def _dims(text: str, item: str) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in text.split(","))
    except ValueError:
        raise UsageError(f"--input-shape {item!r}: dims must be integers") from None


def _parse_input_shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    """ONNX: ``NAME=D0,D1,...`` items as {input name: shape}."""
    shapes = {}
    for item in items or []:
        name, sep, dims = item.rpartition("=")
        if not sep or not name:
            raise UsageError(f"--input-shape takes NAME=D0,D1,... for an ONNX model (got {item!r})")
        shapes[name] = _dims(dims, item)
    return shapes


def _require_torch(what: str) -> None:
    if importlib.util.find_spec("torch") is None:
        raise UsageError(f"{what} is a PyTorch model, and torch is not installed: "
                         "pip install 'tc[torch]'")


@contextlib.contextmanager
def _cwd_on_path():
    """The current directory first on ``sys.path`` (as ``python -m`` puts it) meanwhile."""
    cwd = os.getcwd()
    added = not sys.path or sys.path[0] not in ("", cwd)
    if added:
        sys.path.insert(0, cwd)
    importlib.invalidate_caches()  # files written since the last import must be seen
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _import_attr(spec: str):
    """The object ``MODULE:ATTR`` names, the module imported as ``python -m`` would."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name + ".").startswith(e.name + "."):
            raise UsageError(f"{spec}: no module named {e.name!r} in the current directory "
                             f"({os.getcwd()}) or on sys.path") from None
        raise UsageError(f"{spec}: importing {module_name} failed: {e}") from None
    except Exception as e:  # the user's module raised while it was imported
        raise UsageError(f"{spec}: importing {module_name} failed: "
                         f"{type(e).__name__}: {e}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{spec}: {getattr(module, '__file__', module_name)} has no "
                             f"attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def _call_factory(spec: str):
    """The model ``MODULE:CALLABLE`` makes: the callable called with no arguments (an
    attribute that already is a model is taken as is)."""
    import torch

    models = (torch.nn.Module, torch.export.ExportedProgram)
    with _cwd_on_path():  # also while it runs: it may import its neighbours late
        fn = _import_attr(spec)
        if isinstance(fn, models):
            return fn
        if not callable(fn):
            raise UsageError(f"{spec} is {_short(fn)}, not a function returning a model")
        try:
            model = fn()
        except Exception as e:  # the user's function raised: say so, not a traceback
            raise UsageError(f"{spec}() failed: {type(e).__name__}: {e}") from None
    if not isinstance(model, models):
        raise UsageError(f"{spec}() returned {_short(model)}, not a torch.nn.Module or a "
                         "torch.export.ExportedProgram")
    return model


def _short(value) -> str:
    """``int (42)``: a value's type and the start of its repr, for error messages."""
    text = repr(value)
    return f"{type(value).__name__} ({text[:60] + '...' if len(text) > 60 else text})"


def _load_program(path: str):
    """The ``torch.export`` program saved in ``path`` (``torch.export.save``)."""
    import torch

    if not os.path.isfile(path):
        raise UsageError(f"torch.export file {path!r} does not exist; check the path")
    export_log = logging.getLogger("torch.export")
    level = export_log.level
    export_log.setLevel(logging.ERROR)  # torch logs a traceback before raising on a bad file
    try:
        return torch.export.load(path)
    except Exception as e:  # zipfile, torch and pickling errors for a damaged file
        raise UsageError(f"cannot read torch.export file {path!r} ({type(e).__name__}: {e}); "
                         "save it with torch.export.save") from None
    finally:
        export_log.setLevel(level)


def _forward_params(model) -> tuple[list[inspect.Parameter], bool]:
    """``model.forward``'s positional parameters, and whether it takes ``*args`` (then
    any number of inputs)."""
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return [], True
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return ([p for p in params if p.kind in kinds],
            any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in params))


def _by_position(items: list[str], names: list[str], flag: str, parse) -> dict[int, object]:
    """``flag``'s items (``VALUE`` in forward-argument order, or ``NAME=VALUE``) as
    {argument position: parsed value}."""
    values: dict[int, object] = {}
    positional = 0
    for item in items or []:
        name, sep, text = item.rpartition("=")
        if sep:
            if name not in names:
                raise UsageError(f"{flag} {item!r}: forward has no parameter {name!r} "
                                 f"(it takes {', '.join(names) or 'no named parameters'})")
            pos = names.index(name)
        else:
            pos, positional = positional, positional + 1
        if pos in values:
            label = names[pos] if pos < len(names) else f"#{pos}"
            raise UsageError(f"{flag} {item!r}: forward argument {label} was given twice")
        values[pos] = parse(text, item)
    return values


def _torch_dtype(text: str, item: str):
    import torch

    dtype = getattr(torch, text, None)
    if not isinstance(dtype, torch.dtype) or dtype.is_complex:
        raise UsageError(f"--input-dtype {item!r}: not a torch dtype such as float32, float16, "
                         "int64, int32 or bool")
    return dtype


def _example_inputs(model, spec: str, shape_items: list[str], dtype_items: list[str]) -> tuple:
    """Random example inputs for exporting ``model``: one tensor per ``--input-shape``,
    of the matching ``--input-dtype`` (float32 by default; integers in [0, 100))."""
    import torch

    params, var_args = _forward_params(model)
    names = [p.name for p in params]
    required = [p.name for p in params if p.default is inspect.Parameter.empty]
    if not shape_items:
        args = ", ".join(required) or "each forward argument"
        raise UsageError(f"{spec} is a PyTorch model: give the shape of each forward argument "
                         f"({args}) in order, e.g. --input-shape 1,3,224,224 (and --input-dtype "
                         "int64 for token ids)")
    shapes = _by_position(shape_items, names, "--input-shape", _dims)
    dtypes = _by_position(dtype_items, names, "--input-dtype", _torch_dtype)
    count = max(shapes) + 1
    missing = [names[i] if i < len(names) else f"#{i}" for i in range(count) if i not in shapes]
    missing += required[count:]
    if missing:
        raise UsageError(f"--input-shape: no shape for forward argument(s) {', '.join(missing)}")
    if count > len(names) and not var_args:
        raise UsageError(f"--input-shape: {count} shapes, but forward takes {len(names)} "
                         f"argument(s) ({', '.join(names)})")
    if dtypes and max(dtypes) >= count:
        raise UsageError(f"--input-dtype: {max(dtypes) + 1} dtypes for {count} input shape(s)")
    gen = torch.Generator().manual_seed(0)
    return tuple(_random_tensor(shapes[i], dtypes.get(i, torch.float32), gen) for i in range(count))


def _random_tensor(shape: tuple[int, ...], dtype, gen):
    import torch

    if dtype.is_floating_point:
        return torch.randn(shape, generator=gen).to(dtype)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=gen).bool()
    return torch.randint(0, 100, shape, generator=gen, dtype=dtype)


def resolve_model(spec: str, shape_items: list[str], dtype_items: list[str]):
    """(model, default output path, example inputs, ONNX input shapes) for tc-build's
    MODEL argument."""
    stem = os.path.splitext(os.path.basename(spec))[0]
    if not os.path.exists(spec) and _FACTORY.fullmatch(spec):
        _require_torch(spec)
        model, stem = _call_factory(spec), re.split(r"[:.]", spec)[-1]
    elif spec.endswith(".pt2"):
        _require_torch(spec)
        model = _load_program(spec)
    else:
        if dtype_items:
            raise UsageError("--input-dtype is for PyTorch models; an ONNX model declares "
                             "the types of its inputs")
        return spec, stem + ".so", None, _parse_input_shapes(shape_items)
    import torch

    if isinstance(model, torch.export.ExportedProgram):
        if shape_items or dtype_items:
            raise UsageError(f"{spec} is a torch.export program: its input shapes and dtypes "
                             "were fixed when it was exported; drop --input-shape/--input-dtype")
        return model, stem + ".so", None, None
    return model, stem + ".so", _example_inputs(model, spec, shape_items, dtype_items), None
