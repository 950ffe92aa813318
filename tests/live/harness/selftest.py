"""Mutations the harness self-test applies to a rendered tree (tests/live/harness-selftest.sh),
to show that the harness reports failures. Only the self-test uses them: a real run never edits
the emitted files."""

import os
import re


def wrong_exporter_port(tree):
    """Every exporter endpoint of the gateway (or of every collector without one) points one port off."""
    path = os.path.join(tree, "collector", "gateway.yaml")
    paths = [path] if os.path.exists(path) else [os.path.join(tree, "collector", f)
                                                 for f in os.listdir(os.path.join(tree, "collector"))]
    for p in paths:
        text = open(p).read()
        head, sep, tail = text.partition("\nexporters:\n")
        if not sep:
            continue
        body, sep2, rest = tail.partition("\nservice:\n")
        body = re.sub(r"(endpoint: \"?[a-z]+://[^:\s\"]+:|endpoint: \"?[^:\s\"/]+:)(\d+)",
                      lambda m: m.group(1) + str(int(m.group(2)) + 1), body)
        with open(p, "w") as f:
            f.write(head + sep + body + sep2 + rest)


def tail_ratio_tripled(tree):
    """The tail sampler keeps three times the stack's share of the other traces."""
    d = os.path.join(tree, "collector")
    for fn in os.listdir(d):
        p = os.path.join(d, fn)
        text = open(p).read()
        new = re.sub(r"(sampling_percentage: )([0-9.]+)", lambda m: m.group(1) + str(min(float(m.group(2)) * 3, 100.0)),
                     text)
        if new != text:
            with open(p, "w") as f:
                f.write(new)


MUTATIONS = {"wrong-exporter-port": wrong_exporter_port, "tail-ratio-tripled": tail_ratio_tripled}


def mutation(name):
    return MUTATIONS[name]
