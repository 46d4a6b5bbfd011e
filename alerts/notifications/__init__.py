"""Delivery of alert events: the outbox, dispatchers, escalation and acknowledge links.

``outbox`` writes Notification rows in the transaction of the event that causes them;
``dispatch`` claims due rows under a lease and sends them through ``alerts.channels``;
``escalation`` walks a firing alert up its policy; ``links`` signs one-click acknowledge links.
"""
