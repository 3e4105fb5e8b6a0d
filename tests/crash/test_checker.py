"""Proves the crash-suite checker can fail: a clean history passes, and a history with each
anomaly kind is reported as exactly that kind. Run: python tests/crash/test_checker.py"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checker import KINDS, check, identity, value_of  # noqa: E402


def send(producer, seq, partition, offset, idem=True):
    return [
        {"type": "invoke", "producer": producer, "seq": seq, "partition": partition, "idem": idem},
        {"type": "ack", "producer": producer, "seq": seq, "partition": partition, "offset": offset},
    ]


def read(cycle, partition, offset, producer, seq):
    return {"type": "read", "cycle": cycle, "partition": partition, "offset": offset,
            "key": producer, "value": value_of(producer, seq)}


def clean():
    """Two producers, two partitions, two read cycles, a member that commits and resumes."""
    h = []
    for seq in range(4):
        h += send("idem", seq, seq % 2, seq // 2)
    h += send("plain", 0, 0, 2, idem=False)
    for cycle in (1, 2):
        for seq in range(4):
            h.append(read(cycle, seq % 2, seq // 2, "idem", seq))
        h.append(read(cycle, 0, 2, "plain", 0))
    h += [
        {"type": "assign", "member": "m1", "partition": 0, "t": 1.0},
        {"type": "consume", "member": "m1", "partition": 0, "offset": 0, "t": 1.1},
        {"type": "consume", "member": "m1", "partition": 0, "offset": 1, "t": 1.2},
        {"type": "commit", "member": "m1", "partition": 0, "offset": 2, "status": "ok",
         "t0": 1.3, "t1": 1.4},
        {"type": "committed", "partition": 0, "offset": 2, "t": 1.5},
        {"type": "revoke", "member": "m1", "partition": 0, "t": 2.0},
        {"type": "assign", "member": "m2", "partition": 0, "t": 2.1},
        {"type": "consume", "member": "m2", "partition": 0, "offset": 2, "t": 2.2},
        {"type": "commit", "member": "m2", "partition": 0, "offset": 3, "status": "ok",
         "t0": 2.3, "t1": 2.4},
        {"type": "committed", "partition": 0, "offset": 3, "t": 2.5},
    ]
    return h


def kinds(history):
    return sorted({a["kind"] for a in check(history)})


def replace(history, pred, new):
    return [new(e) if pred(e) else e for e in history]


class CheckerTest(unittest.TestCase):
    def test_values_carry_their_identity(self):
        self.assertEqual(identity(value_of("idem", 42)), ("idem", 42))
        self.assertIsNone(identity("zz"))

    def test_clean_history_passes(self):
        self.assertEqual(check(clean()), [])

    def test_lost_write_missing(self):
        h = [e for e in clean() if not (e["type"] == "read" and e["cycle"] == 2
                                         and e["partition"] == 1 and e["offset"] == 1)]
        self.assertEqual(kinds(h), ["lost-write"])

    def test_lost_write_other_bytes_at_the_offset(self):
        # Offset 1 of partition 1 holds another record in every read: the ack lied.
        h = replace(clean(), lambda e: e["type"] == "read" and e["partition"] == 1
                    and e["offset"] == 1, lambda e: dict(e, value=value_of("idem", 99)))
        self.assertEqual(kinds(h), ["lost-write"])

    def test_duplicate(self):
        h = clean()
        for cycle in (1, 2):
            h.append(read(cycle, 1, 2, "idem", 3))
        self.assertEqual(kinds(h), ["duplicate"])

    def test_duplicate_of_a_plain_producer_is_allowed(self):
        h = clean()
        for cycle in (1, 2):
            h.append(read(cycle, 0, 3, "plain", 0))
        self.assertEqual(kinds(h), [])

    def test_reorder(self):
        h = clean()
        h += send("idem", 4, 1, 2) + send("idem", 6, 1, 3)
        for cycle in (1, 2):
            h.append(read(cycle, 1, 2, "idem", 6))
            h.append(read(cycle, 1, 3, "idem", 4))
        found = kinds(h)
        self.assertIn("reorder", found)

    def test_inconsistent_offset_across_cycles(self):
        h = replace(clean(), lambda e: e["type"] == "read" and e["cycle"] == 1
                    and e["partition"] == 0 and e["offset"] == 2,
                    lambda e: dict(e, value=value_of("plain", 7)))
        self.assertEqual(kinds(h), ["inconsistent-offset"])

    def test_nonmonotonic_offsets(self):
        h = clean()
        h.append(read(2, 1, 0, "idem", 1))
        self.assertIn("nonmonotonic-offset", kinds(h))

    def test_offset_gap(self):
        h = clean()
        h += send("idem", 5, 1, 5)
        for cycle in (1, 2):
            h.append(read(cycle, 1, 5, "idem", 5))
        self.assertEqual(kinds(h), ["offset-gap"])

    def test_commit_backwards_observed(self):
        h = clean() + [{"type": "committed", "partition": 0, "offset": 1, "t": 3.0}]
        self.assertEqual(kinds(h), ["commit-backwards"])

    def test_commit_backwards_below_an_acknowledged_commit(self):
        h = [e for e in clean() if e["type"] != "committed"]
        h.append({"type": "committed", "partition": 0, "offset": 2, "t": 2.6})
        self.assertEqual(kinds(h), ["commit-backwards"])

    def test_bad_resume(self):
        h = replace(clean(), lambda e: e["type"] == "consume" and e["member"] == "m2",
                    lambda e: dict(e, offset=0))
        self.assertIn("bad-resume", kinds(h))

    def test_resume_at_a_commit_of_unknown_outcome_is_allowed(self):
        h = clean()
        h.insert(-5, {"type": "commit", "member": "m1", "partition": 0, "offset": 5,
                      "status": "unknown", "t0": 2.05, "t1": 9.0})
        h = replace(h, lambda e: e["type"] == "consume" and e["member"] == "m2",
                    lambda e: dict(e, offset=5))
        self.assertNotIn("bad-resume", kinds(h))

    def test_consumer_skip(self):
        h = replace(clean(), lambda e: e["type"] == "consume" and e["offset"] == 1,
                    lambda e: dict(e, offset=3))
        self.assertIn("consumer-skip", kinds(h))

    def test_group_skip_below_the_committed_offset(self):
        # m2 resumes at 2 but offset 1 was never delivered to anyone.
        h = [e for e in clean() if not (e["type"] == "consume" and e["offset"] == 1)]
        h = replace(h, lambda e: e["type"] == "commit" and e["member"] == "m1",
                    lambda e: dict(e, offset=2))
        found = [a for a in check(h) if a["kind"] == "consumer-skip"]
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0]["never_delivered"], [1])

    def test_every_kind_is_covered(self):
        tested = {"lost-write", "duplicate", "reorder", "inconsistent-offset",
                  "nonmonotonic-offset", "offset-gap", "commit-backwards", "bad-resume",
                  "consumer-skip"}
        self.assertEqual(tested, set(KINDS))


if __name__ == "__main__":
    unittest.main()
