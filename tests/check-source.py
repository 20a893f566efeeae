#!/usr/bin/env python3
"""Source rules that a compiler does not check (fwupd's check-source.py model).

For every C file under station/, protocols/, db/ and gui/:
- file names are fst-<module>[-<object>].{c,h}
- no g_error() (a station must not abort on bad input)
- no // comments
- every G_LOG_DOMAIN is Fst<Something>
- non-static functions defined in a file start with fst_ or _fst_ (or are main,
  LLVMFuzzerTestOneInput, or the libc interposer ioctl)
Prints one line per violation and exits 1 if there is any.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIRS = ["station", "protocols", "db", "gui"]
ALLOWED_GLOBALS = {"main", "LLVMFuzzerTestOneInput", "ioctl"}

func_def = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)\s*\(", re.M)


def strip_strings(text):
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


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
            name = m.group(1)
            if name in ALLOWED_GLOBALS or name.startswith(("fst_", "_fst_", "G_", "FST_")):
                continue
            problems.append(f"{rel}:{i + 1}: public function {name} lacks the fst_ prefix")


def main():
    problems = []
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
