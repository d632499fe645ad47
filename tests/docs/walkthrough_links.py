#!/usr/bin/env python3
"""docs/walkthrough.md names a file and a function at every stop:

    **Read:** [`parallel/data_parallel.cpp`](../parallel/data_parallel.cpp) — `DataParallel::run_step`

This check fails when a named file is gone, when its link points elsewhere,
when the function is no longer defined there, or when the walk grows past
its measure (in one process: at most 12 stops in at most 10 files; across
processes: at most 5 more stops).

    walkthrough_links.py SOURCE_DIR          check docs/walkthrough.md
    walkthrough_links.py --self-test         the check catches a renamed function
"""
import os
import re
import sys
import tempfile

READ = re.compile(r"^\*\*Read:\*\* \[`([^`]+)`\]\(([^)]+)\) — `([^`]+)`\s*$")


def defined_in(text, name):
    """True when `name` (a function, Class::method or a class) is defined in `text`."""
    short = name.split("::")[-1]
    if re.search(r"\b(class|struct)\s+" + re.escape(short) + r"\b", text):
        return True
    if "::" in name and re.search(re.escape(name) + r"\s*\(", text):
        return True
    # A free function or a method defined inside its class: the name, then a
    # parameter list, then (after the closing parenthesis) a body or an initialiser list.
    return re.search(r"\b" + re.escape(short) + r"\s*\([^;{}]*\)\s*(const\s*)?(noexcept\s*)?(override\s*)?[{:]",
                     text) is not None


def check(root, doc_text):
    errors, stops = [], []
    part = "in one process"
    for n, line in enumerate(doc_text.splitlines(), 1):
        if line.startswith("## "):
            part = "across processes" if "across processes" in line.lower() else part
        m = READ.match(line)
        if not m:
            if line.startswith("**Read:**"):
                errors.append(f"line {n}: a Read line that does not parse: {line}")
            continue
        path, link, name = m.groups()
        stops.append((part, path))
        if os.path.normpath(os.path.join("docs", link)) != os.path.normpath(path):
            errors.append(f"line {n}: the link {link} does not point at {path}")
        full = os.path.join(root, path)
        if not os.path.isfile(full):
            errors.append(f"line {n}: {path} does not exist")
            continue
        with open(full, encoding="utf-8") as f:
            if not defined_in(f.read(), name):
                errors.append(f"line {n}: {path} does not define {name}")
    inproc = [p for part, p in stops if part == "in one process"]
    across = [p for part, p in stops if part == "across processes"]
    if not inproc:
        errors.append("no stops found")
    if len(inproc) > 12 or len(set(inproc)) > 10:
        errors.append(f"the in-process walk has {len(inproc)} stops in {len(set(inproc))} files "
                      "(at most 12 stops in 10 files)")
    if len(across) > 5:
        errors.append(f"the walk across processes adds {len(across)} stops (at most 5)")
    return errors, inproc, across


def main():
    if sys.argv[1:] == ["--self-test"]:
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "a"))
            with open(os.path.join(root, "a", "x.cpp"), "w") as f:
                f.write("void Foo::bar(int x) {\n}\n")
            good = "## In one process\n**Read:** [`a/x.cpp`](../a/x.cpp) — `Foo::bar`\n"
            bad = good.replace("Foo::bar", "Foo::baz")
            if check(root, good)[0] or not check(root, bad)[0]:
                print("self-test FAILED")
                return 1
        print("walkthrough self-test ok")
        return 0
    root = sys.argv[1]
    with open(os.path.join(root, "docs", "walkthrough.md"), encoding="utf-8") as f:
        errors, inproc, across = check(root, f.read())
    for e in errors:
        print("FAIL:", e)
    if errors:
        return 1
    print(f"walkthrough: {len(inproc)} stops in {len(set(inproc))} files in one process, "
          f"{len(across)} more across processes; every file and function found -> ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
