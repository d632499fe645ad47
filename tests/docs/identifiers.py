#!/usr/bin/env python3
"""Prose that names code must name code that exists.

In docs/*.md and README.md (outside code blocks, which quoted_code.py checks):
  - every backticked file name (`parallel/fatal.h`, `gpu-check.sh`) exists,
    as a path from the repository root or docs/, or as a file name in the tree,
    or is a file the sources write (its name appears in them: `summary.txt`);
  - every backticked flag (`--ddp`) and code identifier (`Foo::bar`,
    `clip_grad_norm`, `DataParallel`-like CamelCase with a lower-upper step)
    appears in the sources — unless it is another project's name, listed in
    OTHERS below (PyTorch's, the C++ library's);
  - every relative link [text](path) resolves.

    identifiers.py REPO_ROOT      check the docs
    identifiers.py --self-test    a made-up name and a dead link are caught
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

# Names of other projects that the docs compare minidp with.
OTHERS = {"SyncBatchNorm", "std::mt19937", "register_post_accumulate_grad_hook", "torch.compile",
          "ZeroRedundancyOptimizer"}

FILE = re.compile(r"[\w./-]+\.(h|cpp|cu|cuh|py|sh|cmake|md|txt|json|jsonl)")
FLAG = re.compile(r"--[a-z][a-z0-9-]*")
IDENT = re.compile(r"[A-Za-z_][\w:]*(\(\))?")


def tree_files(root):
    out = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True)
    files = out.stdout.split() if out.returncode == 0 else []
    if not files:
        for p in glob.glob(os.path.join(root, "**", "*"), recursive=True):
            if os.path.isfile(p) and "/build" not in p:
                files.append(os.path.relpath(p, root))
    return files


def check(root, docs):
    files = tree_files(root)
    names = {os.path.basename(f) for f in files}
    blob = []
    for f in files:
        if f.endswith((".md", ".gz", ".png", ".svg")) or f.startswith("tests/fuzz/regressions"):
            continue
        try:
            with open(os.path.join(root, f), encoding="utf-8", errors="ignore") as h:
                blob.append(h.read())
        except OSError:
            pass
    blob = "\n".join(blob)
    errors, counts = [], {"files": 0, "identifiers": 0, "links": 0}
    for doc in docs:
        with open(doc, encoding="utf-8") as h:
            text = re.sub(r"```.*?```", "", h.read(), flags=re.S)
        rel = os.path.relpath(doc, root)
        for m in re.finditer(r"`([^`\n]+)`", text):
            t = m.group(1).strip()
            if FILE.fullmatch(t):
                counts["files"] += 1
                if not (os.path.exists(os.path.join(root, t)) or os.path.exists(os.path.join(root, "docs", t))
                        or os.path.basename(t) in names or t.startswith(("build/", "/"))
                        or os.path.basename(t) in blob):  # a file a program writes (summary.txt)
                    errors.append(f"{rel}: `{t}`: no such file")
            elif FLAG.fullmatch(t) or (IDENT.fullmatch(t) and ("::" in t or "_" in t or re.search(r"[a-z][A-Z]", t))):
                if t in OTHERS or t.replace("()", "") in OTHERS:
                    continue
                counts["identifiers"] += 1
                name = t.replace("()", "").split("::")[-1]
                if name not in blob:
                    errors.append(f"{rel}: `{t}`: not found in the sources")
        for m in re.finditer(r"\]\(([^)\s]+)\)", text):
            link = m.group(1).split("#")[0]
            if not link or re.match(r"[a-z]+:", link):
                continue
            counts["links"] += 1
            if not os.path.exists(os.path.join(os.path.dirname(doc), link)):
                errors.append(f"{rel}: link ({link}) does not resolve")
    return errors, counts


def main():
    if sys.argv[1:] == ["--self-test"]:
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "docs"))
            with open(os.path.join(root, "a.cpp"), "w") as h:
                h.write("void real_name() {}\n")
            doc = os.path.join(root, "docs", "x.md")
            with open(doc, "w") as h:
                h.write("`real_name` and `made_up_name`, [a link](nowhere.md)\n")
            errors, _ = check(root, [doc])
            ok = any("made_up_name" in e for e in errors) and any("nowhere.md" in e for e in errors) and \
                not any("real_name`" in e and "made_up" not in e for e in errors)
        print("identifiers self-test ok" if ok else "identifiers self-test FAILED")
        return 0 if ok else 1
    root = sys.argv[1]
    docs = sorted(glob.glob(os.path.join(root, "docs", "*.md"))) + [os.path.join(root, "README.md")]
    errors, counts = check(root, docs)
    for e in errors:
        print("FAIL:", e)
    if errors:
        return 1
    print(f"docs name real code: {counts['identifiers']} identifiers and flags, {counts['files']} file names, "
          f"{counts['links']} relative links checked -> ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
