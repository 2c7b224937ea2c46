#!/usr/bin/env python3
"""run.py - the whole test suite behind `make test`.

Runs every cmocka unit test binary of the normal and the ASan+UBSan build
(TAP output, one result per test case), then every integration test module
under tests/integration/ (Python unittest, real agent, real cgroups) against
both builds, each module in its own process so a crash or a leaked fixture
cannot hide other results.
Ends with one line: `N passed, N failed[, N skipped]`; exits non-zero on any
failure.
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unit_binaries(build):
    base = os.path.join(build, "tests", "unit")
    out = []
    for dirpath, _, files in os.walk(base):
        for f in files:
            p = os.path.join(dirpath, f)
            if f.startswith("test-") and os.access(p, os.X_OK) and not f.endswith((".p", ".o")):
                out.append(p)
    return sorted(out)


def run_unit(binary, label, counts, timeout=300):
    env = dict(os.environ, CMOCKA_MESSAGE_OUTPUT="TAP")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    name = f"{label}:{os.path.basename(binary)}"
    try:
        p = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        counts["failed"] += 1
        print(f"FAIL {name}: timed out")
        return
    ok = len(re.findall(r"^ok \d+", p.stdout, re.M))
    bad = len(re.findall(r"^not ok \d+", p.stdout, re.M))
    if p.returncode != 0 and bad == 0:
        bad = 1  # crashed, sanitizer report, or setup failure
    counts["passed"] += ok
    counts["failed"] += bad
    status = "ok  " if bad == 0 else "FAIL"
    print(f"{status} {name}: {ok} passed, {bad} failed")
    if bad:
        sys.stdout.write(p.stdout[-4000:])
        sys.stdout.write(p.stderr[-4000:])


def run_integration(path, build, label, counts,
                    timeout=int(os.environ.get("PORTISO_MODULE_TIMEOUT", "600"))):
    env = dict(os.environ, PORTISO_BUILD=os.path.abspath(build), PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.path.join(ROOT, "tests", "integration")
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, "-m", "unittest", "-v", os.path.basename(path)[:-3]],
                           cwd=os.path.dirname(path), env=env, capture_output=True, text=True,
                           timeout=timeout)
        out = p.stderr
        rc = p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        rc = -1
        out += "\nTIMEOUT\n"
    m = re.search(r"^Ran (\d+) tests?", out, re.M)
    ran = int(m.group(1)) if m else 0
    failures = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", out.splitlines()[-1] if out.strip() else ""))
    skipped = int((re.search(r"skipped=(\d+)", out.splitlines()[-1] if out.strip() else "") or [0, 0])[1])
    if rc != 0 and failures == 0:
        failures = 1
    passed = max(ran - failures - skipped, 0)
    counts["passed"] += passed
    counts["failed"] += failures
    counts["skipped"] += skipped
    dt = time.monotonic() - t0
    status = "ok  " if failures == 0 else "FAIL"
    print(f"{status} {label}:{os.path.basename(path)}: {passed} passed, {failures} failed, "
          f"{skipped} skipped ({dt:.1f}s)")
    if failures or os.environ.get("VERBOSE"):
        sys.stdout.write(out[-12000:])
    else:
        # Figures a test prints (the crash harness' counts) are shown anyway.
        for line in out.splitlines():
            if line.startswith("figures: "):
                print(f"     {line}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--asan-build", default=None)
    ap.add_argument("only", nargs="*", help="substrings selecting tests to run")
    a = ap.parse_args()
    counts = {"passed": 0, "failed": 0, "skipped": 0}

    def wanted(name):
        return not a.only or any(s in name for s in a.only)

    builds = [("unit", a.build)] + ([("unit-asan", a.asan_build)] if a.asan_build else [])
    for label, build in builds:
        bins = unit_binaries(build)
        if not bins:
            print(f"FAIL {label}: no unit test binaries under {build}/tests/unit")
            counts["failed"] += 1
        for b in bins:
            if wanted(b):
                run_unit(b, label, counts)
        sys.stdout.flush()

    # The integration suite runs against both builds too: the agent, the
    # client and the helpers under ASan+UBSan catch what unit tests cannot.
    idir = os.path.join(ROOT, "tests", "integration")
    for label, build in [("integration", a.build)] + (
            [("integration-asan", a.asan_build)] if a.asan_build else []):
        for f in sorted(os.listdir(idir)):
            if f.startswith("test_") and f.endswith(".py") and wanted(f):
                run_integration(os.path.join(idir, f), build, label, counts)

    line = f"{counts['passed']} passed, {counts['failed']} failed"
    if counts["skipped"]:
        line += f", {counts['skipped']} skipped"
    print(line)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
