"""Later lives of a damaged directory: recover, write on, damage again, recover again.

One damage and one recovery never exercise the quarantine's bookkeeping across recoveries:
which copies exist, what the next copy of the same stretch is called. So one damage case in
LIFE_EVERY lives on: the store recovered from the first damage writes AFTER, closes, and the
directory is damaged again, at the very place the first recovery cut (a byte flipped at that
offset of that segment, which now holds the new records) or, when nothing was cut, at a seeded
byte of the newest segment. The second recovery is judged exactly as the first (the kind's
oracle: damage.judge_damaged), against the model of the first life's recovered prefix followed
by AFTER, and every quarantine copy the first life made must still be there, byte for byte.
"""

from __future__ import annotations

import os
import random

from tornwrite.engine import IOLayer, Store
from tornwrite.engine.quarantine import QUARANTINE_DIR
from tornwrite.faultinject.core.execution import DATA_DIR, FakeClock
from tornwrite.faultinject.core.simdisk import Image, SimDisk
from tornwrite.faultinject.kinds.damage_records import recovery_warnings
from tornwrite.models.ops import Op

LIFE_EVERY = 10  # case numbers ending in 5 live a second life
AFTER = (
    Op.of("set", "life-2/ключ", "#life-2: строка".encode()),
    Op.of("rpush", "life-2/list", b"#life-2:a", "#life-2: ü".encode()),
    Op.of("hset", "life-2/hash", {"f": b"#life-2:f", "ζ": b"#life-2:g"}),
)


def lives_on(case: int) -> bool:
    return case % LIFE_EVERY == LIFE_EVERY // 2


def write_on(damaged: Image, check_time: float) -> tuple[Image, tuple[str, int] | None]:
    """Recover `damaged`, write AFTER, close: (the files left, where the recovery cut a segment)."""
    disk = SimDisk.from_image(damaged)
    with recovery_warnings():
        store = Store.open(DATA_DIR, io=IOLayer(disk), clock=FakeClock(check_time))
    try:
        cut = next(((s.path, s.offset) for s in store.recovery.discarded if s.path.endswith(".log")), None)
        for op in AFTER:
            op.apply_to(store)
    finally:
        store.close()
    return disk.process_crash_image(), cut


def damage_again(image: Image, cut: tuple[str, int] | None, case: int, seed: int) -> tuple[str, Image]:
    """(description, image) with one byte flipped where the first life's recovery cut, or else
    at a seeded offset past the header of the newest WAL segment."""
    files = image[DATA_DIR]
    rng = random.Random(f"damage-life/{seed}/{case}")
    name, at = (os.path.basename(cut[0]), cut[1]) if cut else (None, 0)
    if name is None or name not in files or at >= len(files[name]):
        name = max(n for n in files if n.startswith("wal-"))
        at = rng.randrange(files[name].index(b"\n") + 1, len(files[name]))
        where = "a seeded byte"
    else:
        where = "the byte where the first recovery cut"
    data = bytearray(files[name])
    data[at] ^= rng.randint(1, 255)
    again = {path: dict(entries) for path, entries in image.items()}
    again[DATA_DIR][name] = bytes(data)
    return f"life 2: {len(AFTER)} writes, then {where} flipped: {name} byte {at}", again


def quarantined(image: Image) -> dict[str, bytes]:
    """The quarantine copies in `image`, by name."""
    return dict(image.get(os.path.join(DATA_DIR, QUARANTINE_DIR), {}))


def copies_lost(earlier: dict[str, bytes], durable: Image) -> str | None:
    """Why a quarantine copy an earlier life made is no longer there as it was, or None."""
    now = quarantined(durable)
    for name, data in sorted(earlier.items()):
        if now.get(name) != data:
            return f"the quarantine copy {name} an earlier recovery made is gone or changed"
    return None
