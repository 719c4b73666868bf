"""The promotion rule (ml/promotion.py); the gate on real models is in test_training.py."""

from ml.promotion import decide_promotion


def test_the_gate_decision_rule():
    assert decide_promotion(0.70, None, 0.01)[0]
    assert decide_promotion(0.72, 0.70, 0.01)[0]
    assert not decide_promotion(0.705, 0.70, 0.01)[0]
    assert not decide_promotion(0.69, 0.70, 0.0)[0]
