"""Proves the exactly-once checker can fail: a clean run passes, and each anomaly kind is
reported. Run: python tests/crash/test_eos_checker.py"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eos_checker import check, copy_of  # noqa: E402

INPUTS = {0: [b"a", b"b", b"c"], 1: [b"d"]}


def outputs():
    return {p: [copy_of(v) for v in vs] for p, vs in INPUTS.items()}


COMMITTED = {0: 3, 1: 1}
LSO = {0: [0, 2, 2, 5], 1: [1, 1]}


def kinds(anomalies):
    return sorted({a["kind"] for a in anomalies})


class EosChecker(unittest.TestCase):
    def test_clean(self):
        self.assertEqual(check(INPUTS, outputs(), COMMITTED, LSO), [])

    def test_duplicate_copy(self):
        out = outputs()
        out[0].insert(2, copy_of(b"b"))
        a = check(INPUTS, out, COMMITTED, LSO)
        self.assertEqual(kinds(a), ["not-exactly-once"])
        self.assertEqual(a[0]["duplicates"], ["copy-of-b"])

    def test_aborted_copy_visible(self):
        out = outputs()
        out[1].append(b"copy-of-zombie")
        a = check(INPUTS, out, COMMITTED, LSO)
        self.assertEqual(a[0]["extra"], ["copy-of-zombie"])

    def test_lost_copy(self):
        out = outputs()
        del out[0][1]
        a = check(INPUTS, out, COMMITTED, LSO)
        self.assertEqual(a[0]["missing"], ["copy-of-b"])

    def test_reordered(self):
        out = outputs()
        out[0].reverse()
        self.assertEqual(kinds(check(INPUTS, out, COMMITTED, LSO)), ["not-exactly-once"])

    def test_committed_offsets_disagree(self):
        self.assertEqual(kinds(check(INPUTS, outputs(), {0: 2, 1: 1}, LSO)),
                         ["committed-offset"])
        self.assertEqual(kinds(check(INPUTS, outputs(), {0: 3}, LSO)), ["committed-offset"])

    def test_lso_backwards(self):
        a = check(INPUTS, outputs(), COMMITTED, {0: [0, 4, 3]})
        self.assertEqual(kinds(a), ["lso-backwards"])
        self.assertEqual((a[0]["from"], a[0]["to"]), (4, 3))


if __name__ == "__main__":
    unittest.main()
