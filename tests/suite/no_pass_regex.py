#!/usr/bin/env python3
"""No test of the suite passes on a printed line alone.

CTest ignores a test's exit code once PASS_REGULAR_EXPRESSION is set: a driver that prints
its "ok" line and then fails or crashes would pass. This check lists the build tree's tests
(`ctest --show-only=json-v1`) and fails naming each one that sets the property.

usage: no_pass_regex.py CTEST BUILD_DIR
       no_pass_regex.py --self-test CTEST CMAKE WORK_DIR
           configures a made-up project with one such test and one plain test in WORK_DIR and
           checks that exactly the first is reported
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

FIXTURE = """cmake_minimum_required(VERSION 3.16)
project(pass_regex_fixture NONE)
enable_testing()
add_test(NAME passes_on_a_line COMMAND ${CMAKE_COMMAND} -E echo ok)
set_tests_properties(passes_on_a_line PROPERTIES PASS_REGULAR_EXPRESSION "ok")
add_test(NAME plain COMMAND ${CMAKE_COMMAND} -E true)
set_tests_properties(plain PROPERTIES FAIL_REGULAR_EXPRESSION "FAIL")
"""


def listing_tree(build_dir, into):
    """Copies build_dir's CTestTestfile.cmake files, in their folders, into `into`.

    ctest writes Testing/Temporary/LastTest.log in the tree it lists, even with --show-only:
    run on the build tree while the suite runs, it replaced the suite's own log, and the output
    of the suite's failed tests was lost. The copies still include the discovered GoogleTest
    lists from the build tree by their absolute paths (read only). ctest runs in the copy, where
    it then writes its Testing/ folder (without a CMakeCache.txt beside the tests it writes it
    in its working directory).
    """
    for root, dirs, files in os.walk(build_dir):
        dirs[:] = [d for d in dirs if d not in ("CMakeFiles", "Testing")]
        if "CTestTestfile.cmake" in files:
            target = os.path.join(into, os.path.relpath(root, build_dir))
            os.makedirs(target, exist_ok=True)
            shutil.copy(os.path.join(root, "CTestTestfile.cmake"), target)


def offenders(ctest, build_dir):
    """(number of tests, names of those with PASS_REGULAR_EXPRESSION)."""
    with tempfile.TemporaryDirectory() as listing:
        listing_tree(build_dir, listing)
        proc = subprocess.run([ctest, "--test-dir", listing, "--show-only=json-v1"],
                              capture_output=True, text=True, cwd=listing)
    if proc.returncode != 0:
        raise RuntimeError(f"ctest --show-only failed ({proc.returncode}): {proc.stderr.strip()}")
    tests = json.loads(proc.stdout)["tests"]
    bad = [t["name"] for t in tests
           if any(p["name"] == "PASS_REGULAR_EXPRESSION" for p in t.get("properties", []))]
    return len(tests), bad


def check(ctest, build_dir):
    count, bad = offenders(ctest, build_dir)
    for name in bad:
        print(f"FAIL: test '{name}' sets PASS_REGULAR_EXPRESSION: its exit code is ignored; "
              "make its driver exit non-zero on failure instead")
    if bad:
        return 1
    if count == 0:
        print(f"FAIL: no tests registered in {build_dir}")
        return 1
    print(f"ok: none of the {count} tests passes on PASS_REGULAR_EXPRESSION")
    return 0


def self_test(ctest, cmake, work):
    shutil.rmtree(work, ignore_errors=True)
    source, build = os.path.join(work, "source"), os.path.join(work, "build")
    os.makedirs(source)
    with open(os.path.join(source, "CMakeLists.txt"), "w", encoding="utf-8") as f:
        f.write(FIXTURE)
    proc = subprocess.run([cmake, "-S", source, "-B", build], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"FAIL: the fixture did not configure: {proc.stderr.strip()}")
        return 1
    count, bad = offenders(ctest, build)
    if (count, bad) != (2, ["passes_on_a_line"]):
        print(f"FAIL: on the fixture the check found {bad} among {count} tests, expected "
              "['passes_on_a_line'] among 2")
        return 1
    if check(ctest, build) != 1:
        print("FAIL: the check passed a build tree with a PASS_REGULAR_EXPRESSION test")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("ok: the check fails on a tree with a PASS_REGULAR_EXPRESSION test, naming it alone")
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] == "--self-test":
        return self_test(*argv[2:])
    if len(argv) != 3:
        sys.exit(__doc__)
    return check(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
