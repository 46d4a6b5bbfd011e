"""Delivery of alert events: the outbox, dispatchers, escalation and acknowledge links.

``outbox`` writes Notification rows in the transaction of the event that causes them;
``dispatch`` claims due rows under a lease and sends them through ``alerts.channels``;
``escalation`` walks a firing alert up its policy; ``routing`` picks channels and policies;
``links`` signs one-click acknowledge links; ``channel_check`` sends one test message to one
channel; ``services`` writes channels; ``tasks`` are the django-q2 entry points.
"""
