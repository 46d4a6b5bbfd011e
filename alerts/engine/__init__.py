"""The evaluation engine: the cycle (``cycle``), each rule's alert state machine
(``lifecycle``) and the lease that keeps one evaluator at a time (``lease``)."""
