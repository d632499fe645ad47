#!/usr/bin/env python3
"""Code quoted in the docs must still be in the file it names.

A code block in docs/*.md or README.md that follows the marker line

    <!-- quote: parallel/data_parallel.cpp -->

quotes that file. Each of its code lines, compared without comments and
spacing, must appear in the file, in the same order (lines may be left out
between them: quotes are "lightly trimmed"; a line "..." marks such a gap).
The test fails, naming the doc, the file and the first line not found, when
the code changes and the doc does not.

    quoted_code.py REPO_ROOT            check every quote
    quoted_code.py --self-test          show that a wrong quote is caught
"""
import glob
import os
import re
import sys
import tempfile

MARK = re.compile(r"<!--\s*quote:\s*(\S+)\s*-->")


def normalise(line):
    line = re.sub(r"//.*$", "", line)   # C++ comments (the doc's are often its own)
    return re.sub(r"\s+", "", line)


def quotes(doc):
    lines = open(doc, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        m = MARK.search(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j >= len(lines):
            yield m.group(1), i + 1, None
            continue
        k = j + 1
        body = []
        while k < len(lines) and not lines[k].startswith("```"):
            body.append((k + 1, lines[k]))
            k += 1
        yield m.group(1), i + 1, body


def check(root, docs):
    problems, count = [], 0
    for doc in docs:
        for path, at, body in quotes(doc):
            rel = os.path.relpath(doc, root)
            if body is None:
                problems.append(f"{rel}:{at}: a quote marker without a code block after it")
                continue
            src = os.path.join(root, path)
            if not os.path.exists(src):
                problems.append(f"{rel}:{at}: quotes {path}, which does not exist")
                continue
            source = [normalise(l) for l in open(src, encoding="utf-8").read().split("\n")]
            source = [l for l in source if l]
            pos, count = 0, count + 1
            for lineno, line in body:
                want = normalise(line)
                if not want or want == "...":
                    continue
                try:
                    pos = source.index(want, pos) + 1
                except ValueError:
                    problems.append(f"{rel}:{lineno}: quoted from {path}, but not found there (in this order): "
                                    f"{line.strip()}")
                    break
    return problems, count


def main():
    if sys.argv[1:] == ["--self-test"]:
        with tempfile.TemporaryDirectory() as tmp:
            open(os.path.join(tmp, "a.cpp"), "w").write("int f() {\n  return 1;  // one\n}\n")
            open(os.path.join(tmp, "good.md"), "w").write("<!-- quote: a.cpp -->\n```cpp\nint f() {\n"
                                                          "  return 1;   // the doc's own comment\n```\n")
            open(os.path.join(tmp, "bad.md"), "w").write("<!-- quote: a.cpp -->\n```cpp\nint f() {\n  return 2;\n```\n")
            good, n = check(tmp, [os.path.join(tmp, "good.md")])
            bad, _ = check(tmp, [os.path.join(tmp, "bad.md")])
            assert not good and n == 1, good
            assert len(bad) == 1 and "return 2;" in bad[0], bad
        print("self-test ok: a changed line is caught, comments and spacing are not")
        return 0
    root = sys.argv[1]
    docs = sorted(glob.glob(os.path.join(root, "docs", "*.md"))) + [os.path.join(root, "README.md")]
    problems, count = check(root, docs)
    for p in problems:
        print(p)
    if problems:
        return 1
    if count < 5:
        print(f"only {count} quotes found: the markers have gone missing")
        return 1
    print(f"{count} quoted code blocks match their sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
