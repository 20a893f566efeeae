#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Source rules that a compiler does not check (fwupd's check-source.py model).

For every C file under station/, protocols/, db/ and gui/:
- file names are fst-<module>[-<object>].{c,h}
- no g_error() (a station must not abort on bad input)
- no // comments
- every G_LOG_DOMAIN is Fst<Something>
- non-static functions defined in a file start with fst_ or _fst_ (or are main,
  LLVMFuzzerTestOneInput, or the libc interposer ioctl), and their prefix is
  the file's name (fst-ca-store.c: fst_ca_ or fst_ca_store_) or a type its
  header declares (fst-pipeline.h declares FstProgress: fst_progress_)
- no function is longer than 400 lines
- cleanup macros for types that are not the project's own
  (G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, ...)) live only in the shared
  fst-*-common.h headers, so that one type has one cleanup
For every C, CMake, Python and shell file, tests included (not test data):
- the licence is named in its first lines: SPDX-License-Identifier: Apache-2.0
- no comment or test path narrates history (issue numbers, schema-version
  section headers, test paths named after a schema version): code says what
  it is; history lives in git and in the change logs of the documents
Prints one line per violation and exits 1 if there is any.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIRS = ["station", "protocols", "db", "gui"]
ALLOWED_GLOBALS = {"main", "LLVMFuzzerTestOneInput", "ioctl"}
MAX_FUNCTION_LINES = 400
# public names the design gives outside their file's prefix, with the reason
PREFIX_EXCEPTIONS = {
    # the dialect registry's constructor for a port, over the known-devices table
    "fst_device_new_for_port": "station/fst-ports.c",
}
HISTORY = [
    (re.compile(r"\bissue #?[0-9]+", re.I), "names an issue"),
    (re.compile(r"\bschema v[0-9]+\s*:", re.I), "is a schema-version section header"),
    (re.compile(r'"/fst/[^"]*/v[0-9]+/'), "is a test path named after a schema version"),
]

func_def = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)\s*\(", re.M)


def strip_strings(text):
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def squash(name):
    return name.replace("_", "").replace("-", "").lower()


def declared_types(path):
    """prefixes of the types the file's own header declares, squashed"""
    header = path.with_suffix(".h")
    if not header.exists():
        return []
    text = header.read_text(encoding="utf-8")
    names = set(re.findall(r"}\s*(Fst[A-Za-z0-9]+)\s*;", text))
    names |= set(re.findall(r"typedef\s+struct\s+_?\w+\s+(Fst[A-Za-z0-9]+)\s*;", text))
    names |= set(re.findall(r"typedef\s+\w[\w\s\*]*\(\*(Fst[A-Za-z0-9]+)\)", text))
    names |= set(re.findall(r"G_DECLARE_\w+_TYPE\((Fst[A-Za-z0-9]+)", text))
    return [squash(n) for n in names]


def allowed_prefixes(path):
    stem = squash(path.stem)
    prefixes = [stem]
    if stem.endswith("s"):
        prefixes.append(stem[:-1])
    words = path.stem.split("-")
    for k in range(2, len(words)):
        prefixes.append(squash("-".join(words[:k])))
    return prefixes + declared_types(path)


def function_lengths(code_lines):
    """(name, first line, length) of each function defined at column 0"""
    name = None
    start = None
    for i, line in enumerate(code_lines):
        m = re.match(r"^([a-zA-Z_][a-zA-Z0-9_]*)\s*\(", line)
        if m:
            name = m.group(1)
        if line == "{" and name is not None:
            start = i
        elif line == "}" and start is not None:
            yield name, start, i - start
            start = None
            name = None


def check_history(path, problems):
    rel = path.relative_to(ROOT)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for pattern, what in HISTORY:
            if pattern.search(line):
                problems.append(f"{rel}:{n}: '{line.strip()[:60]}' {what}: say what the code is")


SPDX = "SPDX-License-Identifier: Apache-2.0"


def check_licence(path, problems):
    head = path.read_text(encoding="utf-8").splitlines()[:3]
    if not any(SPDX in line for line in head):
        problems.append(f"{path.relative_to(ROOT)}: the first lines must name the licence ({SPDX})")


def check(path, problems):
    rel = path.relative_to(ROOT)
    if not re.fullmatch(r"fst-[a-z0-9-]+\.[ch]", path.name):
        problems.append(f"{rel}: file name must be fst-<module>[-<object>].c/.h")
    text = path.read_text(encoding="utf-8")
    code = strip_strings(text)
    code_no_block = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    for n, line in enumerate(code_no_block.splitlines(), 1):
        if "//" in line and "://" not in line:
            problems.append(f"{rel}: '//' comment (use /* */)")
            break
    if re.search(r"\bg_error\s*\(", code_no_block):
        problems.append(f"{rel}: g_error() aborts the station; return a GError instead")
    for m in re.finditer(r'#define G_LOG_DOMAIN "([^"]*)"', text):
        if not m.group(1).startswith("Fst"):
            problems.append(f"{rel}: G_LOG_DOMAIN {m.group(1)} must start with Fst")
    if path.suffix == ".c":
        lines = code_no_block.splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^([a-zA-Z_][a-zA-Z0-9_]*)\s*\(", line)
            if not m or i == 0:
                continue
            prev = lines[i - 1].strip()
            if prev.startswith("static") or prev.endswith(";") or prev == "" or prev.startswith("#"):
                continue
            if line.rstrip().endswith(";"):
                continue  # a declaration, not a definition
            name = m.group(1)
            if name in ALLOWED_GLOBALS or name.startswith(("G_", "FST_")):
                continue
            if not name.startswith(("fst_", "_fst_")):
                problems.append(f"{rel}:{i + 1}: public function {name} lacks the fst_ prefix")
                continue
            if PREFIX_EXCEPTIONS.get(name) == str(rel):
                continue
            if not squash(name).startswith(tuple(allowed_prefixes(path))):
                problems.append(
                    f"{rel}:{i + 1}: public function {name} does not match the file name "
                    f"or a type of {path.with_suffix('.h').name}"
                )
        for name, start, length in function_lengths(lines):
            if length > MAX_FUNCTION_LINES:
                problems.append(
                    f"{rel}:{start}: {name} is {length} lines long: split it (at most "
                    f"{MAX_FUNCTION_LINES})"
                )
    for m in re.finditer(r"G_DEFINE_AUTOPTR_CLEANUP_FUNC\s*\(\s*(\w+)", code_no_block):
        if not m.group(1).startswith("Fst") and not re.fullmatch(r"fst-[a-z0-9-]+-common\.h", path.name):
            problems.append(
                f"{rel}: cleanup for {m.group(1)} belongs in a shared fst-*-common.h header"
            )


def main():
    problems = []
    for pattern in ("*.c", "*.h", "*.py", "*.sh", "*.cmake", "CMakeLists.txt"):
        for path in sorted(ROOT.rglob(pattern)):
            rel = path.relative_to(ROOT)
            if rel.parts[0] in ("build", ".git") or rel.parts[0].startswith("build"):
                continue
            if rel.parts[:2] != ("tests", "data"):
                check_licence(path, problems)
            if path.resolve() == pathlib.Path(__file__).resolve():
                continue
            check_history(path, problems)
    for d in DIRS:
        base = ROOT / d
        if not base.exists():
            continue
        for path in sorted(base.rglob("fst*.[ch]")) + sorted(
            p for p in base.rglob("*.[ch]") if not p.name.startswith("fst")
        ):
            check(path, problems)
    for p in problems:
        print(p)
    print(f"check-source: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
