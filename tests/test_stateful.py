"""The state machine of faultinject/zoo/stateful.py against the real engine.

Default settings keep it to seconds; `pytest --hypothesis-profile=deep tests/test_stateful.py`
(or REDISLITE_HYPOTHESIS_PROFILE=deep) runs thousands of examples for a nightly-style run.
"""

from tornwrite.faultinject.zoo.stateful import StoreVersusModel

TestStoreVersusModel = StoreVersusModel.TestCase
