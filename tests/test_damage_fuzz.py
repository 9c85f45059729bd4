"""Hypothesis fuzzes the readers with damaged files: recovery gives CorruptDataError naming a
file and offset, or a state the format reader and the op model agree on for some prefix of the
workload; never another exception, never a silently wrong state. (The campaign's `damage` kind
is the seeded loop of the same property, 10,000 files in `make crash-test`.)"""

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from tornwrite.faultinject.core import workloads
from tornwrite.faultinject.core.execution import DATA_DIR
from tornwrite.faultinject.kinds import damage
from tornwrite.models.checker import Oracle


@cache
def completed(name: str):
    workload = workloads.build(name, 11, 40)
    image, progress = damage.final_image(workload)
    return workload, Oracle(list(workload.ops), workload.start_time), image, progress.clock.now


@st.composite
def damaged(draw):
    workload, oracle, image, now = completed(draw(st.sampled_from(["snapshot-heavy", "mixed", "ttl"])))
    files = {n: c for n, c in image[DATA_DIR].items() if n != "LOCK" and c}
    name = draw(st.sampled_from(sorted(files)))
    data = bytearray(files[name])
    at = draw(st.integers(0, len(data) - 1))
    how = draw(st.sampled_from(["flip", "truncate", "duplicate", "zero", "insert"]))
    span = draw(st.integers(1, 32))
    if how == "flip":
        data[at] ^= draw(st.integers(1, 255))
    elif how == "truncate":
        del data[at:]
    elif how == "duplicate":
        data[at:at] = data[at : at + span]
    elif how == "zero":
        data[at : at + span] = bytes(len(data[at : at + span]))
    else:
        data[at:at] = draw(st.binary(min_size=1, max_size=span))
    image = {path: dict(entries) for path, entries in image.items()}
    image[DATA_DIR][name] = bytes(data)
    return workload, oracle, image, now, f"{how} at {at} of {name}"


@settings(max_examples=300)
@given(case=damaged())
def test_damaged_files_are_refused_by_name_or_recover_to_an_allowed_prefix(case):
    workload, oracle, image, now, what = case
    verdict = damage.judge_damaged(oracle, image, now, len(workload.ops))
    assert verdict.outcome == "ok", f"{what}: {verdict.outcome}: {verdict.detail}"
