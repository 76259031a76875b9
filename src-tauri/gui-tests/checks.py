"""The GUI scripts' one way of counting checks.

A run passes only when it ran exactly the number of checks it declares and every one held. Any
exception, whatever its type, counts as a failure, so a script that aborts half-way (a WebDriver
error, a lost bus, a bare `assert`) cannot end "16 passed, 0 failed" with 8 checks never run; the
summary says how many were never reached. `faults.sh` holds the fault suite to the same rule.
"""


class CheckFailed(Exception):
    """A check that did not hold; already counted and printed by `Checks.check`."""


class Checks:
    def __init__(self, expected):
        self.expected = expected
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        """Counts and prints one check; a failed check raises `CheckFailed` (the run stops)."""
        if ok:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}", flush=True)
            raise CheckFailed(name)

    def crashed(self, e):
        """Counts an exception that ended the run; a `CheckFailed` is counted already."""
        if not isinstance(e, CheckFailed):
            self.failed += 1
            print(f"FAIL {type(e).__name__}: {e}", flush=True)

    def summary(self):
        """Prints "N passed, N failed, N not run (of E)" and returns the exit code."""
        not_run = max(self.expected - self.passed - self.failed, 0)
        print(f"{self.passed} passed, {self.failed} failed, {not_run} not run (of {self.expected})", flush=True)
        if self.passed + self.failed != self.expected and not_run == 0:
            print(f"ran {self.passed + self.failed} checks, expected {self.expected}: update the script's total", flush=True)
        return 0 if self.passed == self.expected and self.failed == 0 and not_run == 0 else 1
