"""Every module the Python tests import must come from a Debian package that `make test` installs.

A test that imports a module the installer does not name passes on a developer's machine (where
the package happens to be installed) and fails on a new user's fresh Debian, which is how
`scipy.special` once slipped into the tests. This reads the imports of every .py file under
tests/ (with ast: nothing is imported) and, for each one that is neither in Python's standard
library nor part of this project, finds the file that provides it and the Debian package that
owns that file (dpkg -S). It fails, naming the module, the importing file and the package, when
the module is missing or its package is not in the groups the `test` target of the Makefile
passes to scripts/install-deps.sh.

Usage: /usr/bin/python3 tests/installer_covers_imports.py [SOURCE_DIR]
"""
import ast
import importlib.util
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
# The project's own modules: the smx package (python/smx) and modules beside the tests.
PROJECT_MODULES = {"smx", "conftest"}


def installed_packages():
    """The Debian packages `make test` installs: the groups passed to scripts/install-deps.sh by
    the Makefile's test recipe or a script it runs, looked up in install-deps.sh's table."""
    makefile = open(os.path.join(ROOT, "Makefile")).read()
    recipe = re.search(r"^test:.*?\n((?:\t.*\n)+)", makefile, re.M)
    if not recipe:
        sys.exit("installer_covers_imports: no 'test:' target in the Makefile")
    texts = [recipe.group(1)]
    for word in recipe.group(1).split():
        if os.path.isfile(os.path.join(ROOT, word)):
            texts.append(open(os.path.join(ROOT, word)).read())
    groups = []
    for text in texts:
        for m in re.finditer(r"install-deps\.sh((?:[ \t]+[a-z0-9]+)+)", text):
            groups += m.group(1).split()
    if not groups:
        sys.exit("installer_covers_imports: the test recipe runs no scripts/install-deps.sh")
    table = open(os.path.join(ROOT, "scripts", "install-deps.sh")).read()
    packages = set()
    for group in groups:
        m = re.search(r"\[" + re.escape(group) + r"\]=\"([^\"]*)\"", table)
        if not m:
            sys.exit(f"installer_covers_imports: group '{group}' is not in scripts/install-deps.sh")
        packages |= set(m.group(1).split())
    return groups, packages


def imports_of(path):
    """(top-level module, line) for every absolute import in the file."""
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def owning_package(module):
    """The Debian package that owns the module's files, or None when nothing provides it."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return None
    origin = spec.origin if spec.origin not in (None, "namespace") else list(spec.submodule_search_locations)[0]
    out = subprocess.run(["dpkg", "-S", os.path.realpath(origin)], capture_output=True, text=True)
    if out.returncode != 0:
        return "(no Debian package: " + os.path.realpath(origin) + ")"
    return out.stdout.split(":")[0].strip()


def main():
    groups, packages = installed_packages()
    problems, checked = [], {}
    # Modules of the tests themselves (any .py file under tests/, e.g. tests/tolerances.py).
    local = {f[:-3] for _, _, files in os.walk(os.path.join(ROOT, "tests")) for f in files if f.endswith(".py")}
    for base, _, files in os.walk(os.path.join(ROOT, "tests")):
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(base, name)
            for module, line in imports_of(path):
                if module in sys.stdlib_module_names or module in PROJECT_MODULES or module in local:
                    continue
                if module not in checked:
                    checked[module] = owning_package(module)
                package = checked[module]
                where = f"{os.path.relpath(path, ROOT)}:{line}"
                if package is None:
                    problems.append(f"{where} imports '{module}', which is not installed: `make test` must install "
                                    f"its Debian package (probably python3-{module.lower()}) through "
                                    "scripts/install-deps.sh")
                elif package not in packages:
                    problems.append(f"{where} imports '{module}' from the Debian package {package}, which `make test` "
                                    f"does not install (groups: {' '.join(groups)}): add {package} to one of them "
                                    "in scripts/install-deps.sh")
    for module, package in sorted(checked.items()):
        print(f"installer_covers_imports: {module}: {package}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print(f"installer_covers_imports: every third-party import of tests/ comes from a package `make test` installs")


if __name__ == "__main__":
    main()
