"""The exactly-once workload's checker (eos.py), on what a read_committed reader finally reads:

- exactly once: every input record's copy is in the output exactly once, on the same
  partition, in the input's order, and nothing else is (an aborted transaction's copies, or
  a copy committed twice, would show as an extra or repeated record);
- the group's committed positions equal what the output holds: for each input partition the
  committed offset is the input's end and the output partition holds that many copies;
- the last stable offset of every output partition, sampled while the broker was killed and
  restarted, never went backwards.

`check(inputs, outputs, committed, lso_samples)` returns a list of anomalies (dicts).
"""


def copy_of(value):
    return b"copy-of-" + value


def check(inputs, outputs, committed, lso_samples):
    """inputs/outputs: {partition: [value bytes in offset order]}; committed: {partition:
    offset or None}; lso_samples: {partition: [lso in sampling order]}."""
    anomalies = []
    for p, values in sorted(inputs.items()):
        want = [copy_of(v) for v in values]
        got = outputs.get(p, [])
        if got != want:
            seen = {}
            for v in got:
                seen[v] = seen.get(v, 0) + 1
            dup = sorted(v for v, n in seen.items() if n > 1)
            wanted = set(want)
            extra = sorted(v for v in seen if v not in wanted)
            missing = sorted(v for v in wanted if v not in seen)
            first = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b),
                         min(len(want), len(got)))
            anomalies.append({
                "kind": "not-exactly-once",
                "partition": p,
                "expected": len(want),
                "read": len(got),
                "duplicates": [d.decode(errors="replace") for d in dup[:5]],
                "extra": [e.decode(errors="replace") for e in extra[:5]],
                "missing": [m.decode(errors="replace") for m in missing[:5]],
                "first_difference_at": first,
            })
        c = committed.get(p)
        if c != len(values):
            anomalies.append({"kind": "committed-offset", "partition": p, "committed": c,
                              "input_end": len(values), "output_records": len(got)})
    for p in sorted(outputs):
        if p not in inputs and outputs[p]:
            anomalies.append({"kind": "unexpected-partition", "partition": p,
                              "records": len(outputs[p])})
    for p, samples in sorted(lso_samples.items()):
        for i in range(1, len(samples)):
            if samples[i] < samples[i - 1]:
                anomalies.append({"kind": "lso-backwards", "partition": p,
                                  "from": samples[i - 1], "to": samples[i], "sample": i})
                break
    return anomalies
