"""Read-time symbolization of native traces: raw addresses to function names and file:line.

The C and C++ agents record only addresses and a module map (path, load base, GNU build
id, file size and mtime); names come from the binaries' symbol tables (static functions
included) and lines from their DWARF line programs, read here with pyelftools, from the
binary or its separate debug file. A module whose file changed since the trace was
recorded (another build id; without build ids, another size or mtime) is not used: a
wrong name is worse than an address. Tables are cached per file for the life of the
process.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import shutil
import subprocess
import zlib
from dataclasses import dataclass
from typing import Any, Iterable

_CACHE: dict[tuple, "_Binary | None"] = {}


@dataclass(frozen=True, slots=True)
class Location:
    name: str | None
    file: str | None
    line: int | None


_BINDING_RANK = {"STB_GLOBAL": 2, "STB_WEAK": 1}  # else local: 0


class _Binary:
    """Symbols and line table of one ELF file, addressed by link-time virtual address."""

    def __init__(self, path: str) -> None:
        """Reads `path`, and its separate debug file when it lacks symbols or lines."""
        from elftools.elf.elffile import ELFFile

        with contextlib.ExitStack() as files:
            elf = ELFFile(files.enter_context(open(path, "rb")))
            self.build_id = _build_id(elf)
            found = [(path, elf)]
            if elf.get_section_by_name(".symtab") is None or not _has_lines(elf):
                debug_path = debug_file(path, elf, self.build_id)
                if debug_path:
                    found.append((debug_path, ELFFile(files.enter_context(open(debug_path, "rb")))))
            self._load_symbols([e for _, e in found])
            with_lines = [p for p, e in found if _has_lines(e)]
        self.lines = _Lines(with_lines[-1]) if with_lines else None

    def _load_symbols(self, elves: list[Any]) -> None:
        """Function symbols of every table (.symtab adds static functions); of several
        names for one address (aliases: raise and gsignal) the global one is kept."""
        symbols: dict[int, tuple[int, str]] = {}
        ranks: dict[int, int] = {}
        sections = [elf.get_section_by_name(name) for elf in elves
                    for name in (".dynsym", ".symtab")]
        for section in sections:
            if section is None or section["sh_type"] == "SHT_NOBITS":
                continue
            for sym in section.iter_symbols():
                if sym["st_info"]["type"] not in ("STT_FUNC", "STT_GNU_IFUNC"):
                    continue
                if not sym.name or sym["st_shndx"] == "SHN_UNDEF" or not sym["st_value"]:
                    continue
                addr = sym["st_value"]
                rank = _BINDING_RANK.get(sym["st_info"]["bind"], 0)
                if rank > ranks.get(addr, -1):
                    symbols[addr] = (sym["st_size"], sym.name)
                    ranks[addr] = rank
        self.starts = sorted(symbols)
        self.symbols = [symbols[s] for s in self.starts]

    def function_start(self, vaddr: int) -> int | None:
        """Where the function holding `vaddr` starts, if a symbol covers it."""
        i = bisect.bisect_right(self.starts, vaddr) - 1
        if i >= 0 and vaddr < self.starts[i] + max(self.symbols[i][0], 1):
            return self.starts[i]
        return None

    def locate(self, vaddr: int) -> Location | None:
        name = None
        i = bisect.bisect_right(self.starts, vaddr) - 1
        if i >= 0:
            size, symbol = self.symbols[i]
            if vaddr < self.starts[i] + max(size, 1):
                name = symbol
        file = line = None
        row = self.lines.row(vaddr) if self.lines is not None else None
        if row is not None and (name is None or row[0] >= self.starts[i]):
            _, file, line = row
        if name is None and file is None:
            return None
        return Location(name, file, line)


class _Lines:
    """The DWARF line table of one ELF file, read one compilation unit at a time where the
    file indexes its units by address (.debug_aranges): a C library's debug file holds
    thousands of units, and reading them all takes seconds."""

    def __init__(self, path: str) -> None:
        from elftools.elf.elffile import ELFFile

        self.path = path
        with open(path, "rb") as f:
            self._aranges = ELFFile(f).get_dwarf_info().get_aranges()
        self._tables: dict[int | None, tuple[list[int], list[tuple[int, str, int]]]] = {}

    def row(self, vaddr: int) -> tuple[int, str, int] | None:
        """(address, file, line) of the line-table row holding `vaddr`, or None."""
        unit = None
        if self._aranges is not None:
            unit = self._aranges.cu_offset_at_addr(vaddr)
            if unit is None:
                return None
        if unit not in self._tables:
            self._tables[unit] = self._read(unit)
        addrs, rows = self._tables[unit]
        j = bisect.bisect_right(addrs, vaddr) - 1
        return rows[j] if j >= 0 else None

    def _read(self, unit: int | None) -> tuple[list[int], list[tuple[int, str, int]]]:
        """The rows of the unit at offset `unit` (None: of every unit), by address."""
        from elftools.elf.elffile import ELFFile

        rows: list[tuple[int, str, int]] = []
        with open(self.path, "rb") as f:
            dwarf = ELFFile(f).get_dwarf_info()
            for cu in dwarf.iter_CUs() if unit is None else [dwarf.get_CU_at(unit)]:
                program = dwarf.line_program_for_CU(cu)
                if program is None:
                    continue
                files = _file_names(program, cu)
                for entry in program.get_entries():
                    state = entry.state
                    if state is None or state.end_sequence:
                        continue
                    rows.append((state.address, files.get(state.file, "?"), state.line))
        rows.sort(key=lambda r: r[0])
        return [r[0] for r in rows], rows


def _build_id(elf: Any) -> str | None:
    for section in elf.iter_sections():
        if section["sh_type"] != "SHT_NOTE":
            continue
        for note in section.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID":
                return note["n_desc"]
    return None


def _has_lines(elf: Any) -> bool:
    return elf.get_section_by_name(".debug_line") is not None


DEBUG_ROOT = "/usr/lib/debug"


def debug_file(path: str, elf: Any, build_id: str | None) -> str | None:
    """The separate debug file of a stripped binary, where gdb looks for it: by build id
    under /usr/lib/debug/.build-id/, else by the name and CRC in its `.gnu_debuglink`
    section, next to the binary, in its .debug/ directory, or under /usr/lib/debug."""
    if build_id:
        by_id = os.path.join(DEBUG_ROOT, ".build-id", build_id[:2], build_id[2:] + ".debug")
        if os.path.isfile(by_id):
            return by_id
    link = elf.get_section_by_name(".gnu_debuglink")
    if link is None:
        return None
    data = link.data()
    name, _, rest = data.partition(b"\0")
    if not name or len(data) < 4:
        return None
    crc = int.from_bytes(data[-4:], "little" if elf.little_endian else "big")
    directory = os.path.dirname(os.path.realpath(path))
    name = os.fsdecode(name)
    for candidate in (os.path.join(directory, name), os.path.join(directory, ".debug", name),
                      os.path.join(DEBUG_ROOT, directory.lstrip("/"), name)):
        if os.path.realpath(candidate) != os.path.realpath(path) and _crc32(candidate) == crc:
            return candidate
    return None


def _crc32(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            crc = 0
            while chunk := f.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
            return crc
    except OSError:
        return None


def _file_names(program: Any, cu: Any) -> dict[int, str]:
    """File index -> path, for DWARF 2-4 (1-based) and 5 (0-based) line programs."""
    header = program.header
    version = header["version"]
    comp_dir = cu.get_top_DIE().attributes.get("DW_AT_comp_dir")
    comp_dir = comp_dir.value.decode(errors="replace") if comp_dir else ""
    dirs = [_text(d) for d in header["include_directory"]]
    names: dict[int, str] = {}
    for index, entry in enumerate(header["file_entry"]):
        name = _text(entry.name)
        if version >= 5:
            directory = dirs[entry.dir_index] if entry.dir_index < len(dirs) else ""
            key = index
        else:
            directory = dirs[entry.dir_index - 1] if 0 < entry.dir_index <= len(dirs) else ""
            key = index + 1
        if not os.path.isabs(directory):
            directory = os.path.join(comp_dir, directory)
        names[key] = os.path.normpath(os.path.join(directory, name))
    return names


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class _Recorded:
    """A MODULE record: what the trace saw of a binary."""
    path: str
    base: int
    build_id: str | None
    size: int | None
    mtime: int | None


def _binary(seen: _Recorded) -> _Binary | None:
    """The symbol tables of the module's file, if it is still the binary the trace saw:
    the same build id, or without one on either side the same size and mtime."""
    try:
        stat = os.stat(seen.path)
    except OSError:
        return None
    key = (seen.path, stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        try:
            _CACHE[key] = _Binary(seen.path)
        except Exception:  # not an ELF file, unreadable, unsupported DWARF: keep addresses
            _CACHE[key] = None
    binary = _CACHE[key]
    if binary is None:
        return None
    if seen.build_id and binary.build_id:
        return binary if binary.build_id == seen.build_id else None
    if seen.size is not None and (seen.size, seen.mtime) != (stat.st_size, stat.st_mtime_ns):
        return None
    return binary


class Symbolizer:
    """Resolves absolute runtime addresses through a trace's module map."""

    def __init__(self, modules: Iterable[Any]) -> None:
        """`modules`: decoded MODULE records, or objects with their fields as attributes
        (`path`, `base`, `build_id` as hex text or bytes, optionally `size` and `mtime`)."""
        self.modules: list[_Recorded] = []
        for m in modules:
            path, base, build_id = _get(m, "path"), _get(m, "base"), _get(m, "build_id")
            if not path or not isinstance(base, int):
                continue
            if isinstance(build_id, (bytes, bytearray)):
                build_id = build_id.hex()
            size, mtime = _get(m, "size"), _get(m, "mtime")
            known = isinstance(size, int) and isinstance(mtime, int)
            self.modules.append(_Recorded(path, base, build_id, size if known else None,
                                          mtime if known else None))

    def _binaries(self, addr: int, module: str | None) -> Iterable[tuple[_Binary, int]]:
        """The binaries that may hold `addr`, with their load bases, likeliest first."""
        candidates = [m for m in self.modules if module is None or m.path == module]
        # The highest load base at or below the address is the module holding it; when
        # several fit (base 0 for non-PIE executables), try them from the nearest down.
        for seen in sorted(candidates, key=lambda m: m.base, reverse=True):
            if seen.base > addr:
                continue
            binary = _binary(seen)
            if binary is not None:
                yield binary, seen.base

    def locate(self, addr: int, module: str | None = None) -> Location | None:
        """Name, file and first line of the function containing `addr`, or None. `addr`
        may be any code address in it (a crash's unwound frames are return addresses)."""
        for binary, base in self._binaries(addr, module):
            start = binary.function_start(addr - base)
            location = binary.locate(addr - base if start is None else start)
            if location is not None:
                return location
        return None

    def line_in(self, function: int, addr: int) -> int | None:
        """The source line of code address `addr`, if it lies in the function that holds
        address `function` (its start, or for an unwound frame any address in it): a
        return address may belong to an uninstrumented caller."""
        for binary, base in self._binaries(addr, None):
            start = binary.function_start(addr - base)
            if start is not None and start in (function - base,
                                               binary.function_start(function - base)):
                location = binary.locate(addr - base)
                return location.line if location is not None else None
        return None


_ROOTS = {"_GLOBAL__sub_I_": "global constructors keyed to ",
          "_GLOBAL__sub_D_": "global destructors keyed to "}


def full_names() -> bool:
    """Whether C++ names are shown whole, template arguments included (`orion --demangle
    full`, or ORION_DEMANGLE=full), instead of shortened as uftrace shows them."""
    return os.environ.get("ORION_DEMANGLE", "simple").lower() == "full"


def demangle(names: Iterable[str], full: bool | None = None) -> dict[str, str]:
    """C++ names made readable with c++filt (binutils), when it is installed, without
    parameters; shortened (`std::vector::push_back`) unless `full` (default: full_names()).
    The static constructors and destructors gcc and clang emit for a translation unit
    (`_GLOBAL__sub_I_<key>`) read `global constructors keyed to <key>`, as c++filt shows
    the older `_GLOBAL__I_` form."""
    full = full_names() if full is None else full
    names = set(names)
    roots = {n: next(p for p in _ROOTS if n.startswith(p)) for n in names
             if n.startswith(tuple(_ROOTS))}
    keys = {n[len(prefix):] for n, prefix in roots.items()}
    readable = _cxxfilt(n for n in names | keys if n.startswith("_Z"))
    out = {}
    for name in names:
        prefix = roots.get(name)
        if prefix is not None:
            key = name[len(prefix):]
            text = _ROOTS[prefix] + readable.get(key, key)
        elif name in readable:
            text = readable[name]
        else:
            continue
        out[name] = text if full else short_name(text)
    return out


def _cxxfilt(mangled: Iterable[str]) -> dict[str, str]:
    mangled = sorted(set(mangled))
    tool = shutil.which("c++filt")
    if not mangled or tool is None:
        return {}
    try:
        out = subprocess.run([tool, "--no-params"], input="\n".join(mangled), capture_output=True,
                             text=True, timeout=30, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    return dict(zip(mangled, out)) if len(out) == len(mangled) else {}


_OPERATOR_CHARS = set("<>=!+-*/%^&|~,[]()")


def short_name(name: str) -> str:
    """A demangled name without its template arguments, as uftrace shows it by default:
    `std::vector<int, std::allocator<int> >::push_back<int>` -> `std::vector::push_back`.
    The angle brackets of operators (`operator<<`, `operator->`) are kept."""
    out: list[str] = []
    depth = i = 0
    while i < len(name):
        if name.startswith("operator", i) and (i == 0 or not name[i - 1].isalnum()):
            j = i + len("operator")
            while j < len(name) and name[j] in _OPERATOR_CHARS:
                j += 1
            if depth == 0:
                out.append(name[i:j])
            i = j
            continue
        char = name[i]
        if char == "<":
            depth += 1
        elif char == ">" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
        i += 1
    return "".join(out).strip()


def resolve_functions(functions: Iterable[Any], modules: Iterable[Any]) -> int:
    """Fill in name, file and line of unnamed native functions, in place.

    `functions` are objects with `name`, `addr`, `module`, `file`, `line` (and optionally
    `label`) attributes, or decoded FUNCTION records (dicts); `modules` likewise carry
    `path`, `base`, `build_id`. Returns how many functions got a name.
    """
    functions = [f for f in functions if _get(f, "name") is None
                 and isinstance(_get(f, "addr"), int)]
    if not functions:
        return 0
    try:
        import elftools  # noqa: F401  (optional at run time: without it, addresses stay)
    except ImportError:
        return 0
    symbolizer = Symbolizer(modules)
    found = [(f, symbolizer.locate(_get(f, "addr"), _get(f, "module"))) for f in functions]
    readable = demangle(loc.name for _, loc in found if loc is not None and loc.name)
    named = 0
    for fn, loc in found:
        if loc is None:
            continue
        if loc.name:
            _set(fn, "name", readable.get(loc.name, loc.name))
            named += 1
        if _get(fn, "file") is None and loc.file:
            _set(fn, "file", loc.file)
        if _get(fn, "line") is None and loc.line:
            _set(fn, "line", loc.line)
        if loc.name and (isinstance(fn, dict) and "label" in fn or hasattr(fn, "label")):
            _set(fn, "label", _get(fn, "name"))
    return named


def resolve_lines(points: Iterable[tuple[int | None, int | None]],
                  modules: Iterable[Any]) -> list[int | None]:
    """The source line of each (function address, code address) pair, from the DWARF line
    table, or None where unknown (no symbols, or the code lies in another function)."""
    points = list(points)
    try:
        import elftools  # noqa: F401
    except ImportError:
        return [None] * len(points)
    symbolizer = Symbolizer(modules)
    return [symbolizer.line_in(fn, addr) if isinstance(fn, int) and isinstance(addr, int)
            else None for fn, addr in points]


def resolve_records(records: Iterable[dict]) -> Iterable[dict]:
    """Decoded records with native FUNCTION records resolved (for `orion cat --resolve`).

    Needs the module map first, so it buffers until the stream ends; use it on one trace.
    """
    records = list(records)
    resolve_functions((r for r in records if r.get("type") == "function"),
                      [r for r in records if r.get("type") == "module"])
    return records


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _set(obj: Any, key: str, value: Any) -> None:
    if isinstance(obj, dict):
        obj[key] = value
    else:
        setattr(obj, key, value)
