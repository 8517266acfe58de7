"""CPU lists as Linux and the schedulers write them ("0-3,8-11"), read into sets of CPUs.

A module of its own so the service (the probe, the site checks) can read them without the
trial's thread machinery, which starts torch.
"""

from __future__ import annotations


def parse_cpu_list(text: str) -> set[int]:
    cpus: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            cpus.update(range(int(low), int(high) + 1))
        else:
            cpus.add(int(part))
    return cpus
