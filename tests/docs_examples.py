"""The examples in README.md and docs/*.md run, and print what the page says they print.

A fenced block takes part when its info string carries the word `test` (GitHub shows only the
first word, the language):

    ```cpp test       compiled against the installed library (pkg-config smx, as a user would)
                      and run; statements outside a function are wrapped in main()
    ```console test   each `$ command` runs (bash, in a scratch folder); the lines after it are
                      its expected output, exactly, where a line `...` stands for any lines
    ```python test    run by /usr/bin/python3; `>>>` blocks as doctests (ELLIPSIS)
    ```sh test        run by bash -euo pipefail in the scratch folder
    ```text output    the exact output of the test block before it

A block with the word `mpi` too is skipped (with a line saying so) when the build has no MPI.
The scratch folder is shared by the blocks of one page, in order, so a page may make a file in
one block and use it in the next. The built command (`smx`), the Python module and
tests/mpi/mpirun.sh are on PATH / PYTHONPATH, and the scratch folder links `build/release` to the
build and `tests/` to the checkout's, so paths written as a user in the checkout would write work.

Usage: docs_examples.py SOURCE_DIR BUILD_DIR CXX [--no-mpi]
"""
import doctest
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(.*)$")


def blocks(path):
    """(line number, info words, text) of every fenced block of a page."""
    out, info, start, body = [], None, 0, []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = FENCE.match(line.rstrip("\n"))
            if m and info is None:
                info, start, body = m.group(1).split(), number, []
            elif m and not m.group(1).strip():
                out.append((start, info, "".join(body)))
                info = None
            elif info is not None:
                body.append(line)
    return out


class Runner:
    def __init__(self, source, build, cxx, mpi):
        self.source, self.build, self.cxx, self.mpi = source, build, cxx, mpi
        self.prefix = None
        self.env = dict(os.environ)
        self.env["PATH"] = os.pathsep.join([build, os.path.join(source, "tests", "mpi"), self.env["PATH"]])
        self.env["PYTHONPATH"] = os.path.join(build, "python")
        self.env.setdefault("SMX_NUM_THREADS", "2")

    def pkg_config_flags(self, scratch):
        """Installs the build once into a scratch prefix; the flags pkg-config gives for it."""
        if self.prefix is None:
            self.prefix = os.path.join(scratch, "prefix")
            subprocess.run(["cmake", "--install", self.build, "--prefix", self.prefix], check=True,
                           stdout=subprocess.DEVNULL)
        env = dict(self.env)
        env["PKG_CONFIG_PATH"] = os.pathsep.join(
            os.path.join(self.prefix, d, "pkgconfig") for d in ("lib", "lib/x86_64-linux-gnu", "lib64"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "smx"], env=env, check=True,
                               capture_output=True, text=True).stdout.split()
        return flags

    def run_cpp(self, text, cwd, scratch):
        includes = [l for l in text.splitlines() if l.startswith("#include")]
        rest = [l for l in text.splitlines() if not l.startswith("#include")]
        body = "\n".join(rest)
        if "int main" not in body:
            body = "int main() {\n" + body + "\nreturn 0;\n}\n"
        program = "\n".join(["#include <iostream>"] + includes) + "\n" + body
        src, exe = os.path.join(cwd, "example.cc"), os.path.join(cwd, "example")
        with open(src, "w") as f:
            f.write(program)
        subprocess.run([self.cxx, "-std=c++20", src, "-o", exe] + self.pkg_config_flags(scratch), check=True,
                       cwd=cwd)
        return self.capture([exe], cwd)

    def capture(self, argv, cwd, **kw):
        r = subprocess.run(argv, cwd=cwd, env=self.env, capture_output=True, text=True, **kw)
        if r.returncode != 0:
            raise AssertionError(f"exit status {r.returncode}\n{r.stdout}{r.stderr}")
        return r.stdout

    def run_console(self, text, cwd):
        steps, current = [], None
        for line in text.splitlines():
            if line.startswith("$ "):
                current = (line[2:], [])
                steps.append(current)
            elif current is not None:
                current[1].append(line)
        for command, expected in steps:
            got = self.capture(["bash", "-o", "pipefail", "-c", command], cwd).splitlines()
            if not matches(expected, got):
                raise AssertionError(f"$ {command}\nexpected:\n" + "\n".join(expected) + "\ngot:\n" + "\n".join(got))
        return None

    def run_python(self, text, cwd):
        if ">>>" not in text:
            return self.capture(["/usr/bin/python3", "-c", text], cwd)
        # Doctests run in this process, under Debian's python3 (this script's interpreter).
        sys.path.insert(0, self.env["PYTHONPATH"])
        old = os.getcwd()
        os.chdir(cwd)
        try:
            test = doctest.DocTestParser().get_doctest(text, {}, "block", None, 0)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            lines = []
            runner.run(test, out=lines.append)
            if runner.failures:
                raise AssertionError("".join(lines))
        finally:
            os.chdir(old)
        return None

    def run_block(self, info, text, cwd, scratch):
        language = info[0]
        if language == "cpp":
            return self.run_cpp(text, cwd, scratch)
        if language == "console":
            return self.run_console(text, cwd)
        if language == "python":
            return self.run_python(text, cwd)
        if language == "sh":
            return self.capture(["bash", "-euo", "pipefail", "-c", text], cwd)
        raise AssertionError(f"no runner for ```{' '.join(info)}")


def matches(expected, got):
    """Line by line, where an expected line `...` matches any number of lines."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and got[0] == expected[0] and matches(expected[1:], got[1:])


def pages(source):
    docs = os.path.join(source, "docs")
    return [os.path.join(source, "README.md")] + sorted(
        os.path.join(docs, n) for n in os.listdir(docs) if n.endswith(".md"))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    source, build, cxx = (os.path.abspath(args[0]), os.path.abspath(args[1]), args[2])
    runner = Runner(source, build, cxx, mpi="--no-mpi" not in sys.argv)
    scratch = tempfile.mkdtemp(prefix="smx-docs-")
    ran = failed = 0
    try:
        for page in pages(source):
            cwd = tempfile.mkdtemp(dir=scratch)
            os.makedirs(os.path.join(cwd, "build"))
            os.symlink(build, os.path.join(cwd, "build", "release"))
            os.symlink(os.path.join(source, "tests"), os.path.join(cwd, "tests"))
            last_output = None
            for line, info, text in blocks(page):
                where = f"{os.path.relpath(page, source)}:{line}"
                if info[:2] == ["text", "output"]:
                    if last_output is None:
                        print(f"FAIL {where}: an output block follows no block that printed")
                        failed += 1
                    elif last_output.rstrip("\n") != text.rstrip("\n"):
                        print(f"FAIL {where}: the example printed\n{last_output}")
                        failed += 1
                    continue
                if "test" not in info[1:]:
                    continue
                if "mpi" in info and not runner.mpi:
                    print(f"skip {where}: smx was built without MPI")
                    continue
                ran += 1
                try:
                    last_output = runner.run_block(info, text, cwd, scratch)
                    print(f"ok   {where} ({info[0]})")
                except (AssertionError, subprocess.CalledProcessError) as e:
                    print(f"FAIL {where} ({info[0]}): {e}")
                    failed += 1
                    last_output = None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{ran} examples run, {failed} failed")
    if ran == 0:
        print("no example is marked `test`: nothing was checked")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
