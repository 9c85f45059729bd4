"""The state machine of faultinject/zoo/stateful.py against the real engine.

The "ci" profile (tests/conftest.py) runs the same derandomised programs every time;
`pytest --hypothesis-profile=deep tests/test_stateful.py` (or TORNWRITE_HYPOTHESIS_PROFILE=deep)
runs thousands of random ones for a nightly-style run.
"""

from tornwrite.faultinject.zoo.stateful import StoreVersusModel

TestStoreVersusModel = StoreVersusModel.TestCase
