"""The GUI scripts' one way of counting checks.

A run passes only when it ran exactly the number of checks it declares and every one held (or,
outside CI, was skipped with its reason said: `skip`, the rule of scripts/may-skip.sh). Any
exception, whatever its type, counts as a failure, so a script that aborts half-way (a WebDriver
error, a lost bus, a bare `assert`) cannot end "16 passed, 0 failed" with 8 checks never run; the
summary says how many were never reached. `faults.sh` holds the fault suite to the same rule.
"""


import os


def ci_is_set():
    """`CI` set to anything but empty, `0` or `false` (scripts/may-skip.sh's rule)."""
    v = "".join(os.environ.get("CI", "").split())
    return v not in ("", "0", "false")


class CheckFailed(Exception):
    """A check that did not hold; already counted and printed by `Checks.check`."""


class Checks:
    def __init__(self, expected):
        self.expected = expected
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, name, ok, detail=""):
        """Counts and prints one check; a failed check raises `CheckFailed` (the run stops)."""
        if ok:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}", flush=True)
            raise CheckFailed(name)

    def skip(self, name, reason):
        """A check this environment cannot make, said with its reason; under CI nothing may
        skip, so there it is a failure (and the run stops)."""
        if ci_is_set():
            self.check(name, False, f"cannot be checked here: {reason} (CI is set: nothing may skip)")
        self.skipped += 1
        print(f"skip {name}: {reason}", flush=True)

    def crashed(self, e):
        """Counts an exception that ended the run; a `CheckFailed` is counted already."""
        if not isinstance(e, CheckFailed):
            self.failed += 1
            print(f"FAIL {type(e).__name__}: {e}", flush=True)

    def summary(self):
        """Prints "N passed, N failed, N not run (of E)" and returns the exit code."""
        made = self.passed + self.failed + self.skipped
        not_run = max(self.expected - made, 0)
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        print(f"{self.passed} passed, {self.failed} failed{skipped}, {not_run} not run (of {self.expected})", flush=True)
        if made != self.expected and not_run == 0:
            print(f"ran {made} checks, expected {self.expected}: update the script's total", flush=True)
        return 0 if self.passed + self.skipped == self.expected and self.failed == 0 and not_run == 0 else 1
